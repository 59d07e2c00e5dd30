"""Session stores and the sessions tool in-process (pyframe.lib.sessions)."""

from __future__ import annotations

import datetime
import http.cookies
import os
import pickle
import signal
import threading
import time

import pytest

import pyframe
from pyframe.lib import sessions
from pyframe.lib.sessions import FileSession, LockTimeout, RamSession
from pyframe.tools import Toolbox
from pyframe.tree import Application
from support import Child, wait_for, write_script, wsgi_get

#: A private toolbox, so these tests need no registration in pyframe.tools.
box = Toolbox('sesstest')
box.sessions = sessions.SessionTool()


@pytest.fixture(autouse=True)
def clean_stores():
    """Empty the RAM store and stop clean-up monitors after each test."""
    yield
    RamSession.cache.clear()
    for cls in (RamSession, FileSession):
        cls.stop_clean_thread()
    assert len(RamSession.locks) == 0


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / 'sessions')


@pytest.fixture
def file_kwargs(tmp_path):
    path = tmp_path / 'sessions'
    path.mkdir()
    return {'storage_path': str(path)}


# -- the Session objects --------------------------------------------------


def test_new_session_gets_a_random_hex_id():
    first, second = RamSession(), RamSession()
    assert sessions.Session.valid_id(first.id)
    assert len(first.id) == 40 and first.id != second.id
    assert not first.missing and first.originalid is None


def test_dict_interface_loads_lazily():
    sess = RamSession()
    assert not sess.loaded
    sess['a'] = 1
    assert sess.loaded
    sess.update(b=2)
    assert sess.setdefault('c', 3) == 3
    assert sorted(sess.keys()) == ['a', 'b', 'c']
    assert sorted(sess.values()) == [1, 2, 3]
    assert ('a', 1) in sess.items() and 'a' in sess and sess.get('z', 9) == 9
    assert sess.pop('a') == 1 and sess.pop('a', None) is None
    with pytest.raises(KeyError):
        sess.pop('a')
    del sess['b']
    sess.clear()
    assert list(sess) == []


def test_saved_session_is_found_again_by_id():
    sess = RamSession()
    sess['n'] = 5
    sess.save()
    again = RamSession(sess.id)
    assert not again.missing and again.id == sess.id and again['n'] == 5
    assert len(again) == 1  # sessions in the store


def test_unsaved_session_id_is_unknown():
    sess = RamSession()
    sess['n'] = 1  # never saved
    again = RamSession(sess.id)
    assert again.missing and again.id != sess.id and again.originalid == sess.id


@pytest.mark.parametrize('bad', ['abc', '../../etc/passwd', 'A' * 40, '0' * 39, 'g' * 40, ''])
def test_malformed_ids_are_replaced(bad, file_kwargs):
    for sess in (RamSession(bad), FileSession(bad, **file_kwargs)):
        assert sess.missing and sess.originalid == bad
        assert sess.id != bad and sessions.Session.valid_id(sess.id)


def test_expired_data_is_missing():
    sess = RamSession(timeout=1)
    sess['n'] = 1
    sess.save()
    old = datetime.datetime.now() - datetime.timedelta(minutes=5)
    RamSession.cache[sess.id] = ({'n': 1}, old)
    again = RamSession(sess.id)
    assert again.missing and again.get('n') is None


def test_regenerate_keeps_data_and_drops_old_id():
    seen = []
    sess = RamSession()
    sess.id_observers.append(seen.append)
    sess['k'] = 'v'
    sess.save()
    old = sess.id
    sess.acquire_lock()
    sess.regenerate()
    assert sess.regenerated and sess.locked and seen == [sess.id] and sess.id != old
    assert old not in RamSession.cache
    sess.save()
    assert not sess.locked and RamSession(sess.id)['k'] == 'v'


def test_delete_removes_the_data():
    sess = RamSession()
    sess['a'] = 1
    sess.save()
    sess.delete()
    assert RamSession(sess.id).missing


def test_ram_clean_up_removes_expired():
    fresh, stale = RamSession(), RamSession()
    fresh['a'] = stale['a'] = 1
    fresh.save()
    stale.save()
    RamSession.cache[stale.id] = ({}, datetime.datetime.now() - datetime.timedelta(seconds=1))
    fresh.clean_up()
    assert fresh.id in RamSession.cache and stale.id not in RamSession.cache


def test_ram_lock_blocks_a_second_holder():
    first = RamSession()
    first['x'] = 1
    first.save()
    first.acquire_lock()
    second = RamSession(first.id, lock_timeout=0.05)
    with pytest.raises(LockTimeout):
        second.acquire_lock()
    first.release_lock()
    second.acquire_lock()
    assert second.locked
    second.release_lock()


def test_ram_lock_table_drops_free_locks_and_keeps_held_ones():
    table = sessions._LockTable()
    held = table.acquire('a', None)
    free = table.acquire('b', None)
    free.release()
    table.prune()
    assert len(table) == 1 and set(table._locks) == {'a'}
    # The pruned id gets a fresh lock; the held one still excludes.
    assert table.acquire('b', 0) is not free
    assert table.acquire('a', 0.01) is None
    held.release()


def test_ram_lock_table_stays_bounded_with_many_sessions():
    table = sessions._LockTable()
    for number in range(5000):
        table.acquire(f'id{number}', None).release()
    assert len(table._locks) <= 2048 and len(table) == 0


def test_ram_lock_taken_while_pruned_still_excludes():
    table = sessions._LockTable()
    first = table.acquire('x', None)
    got = []
    waiter = threading.Thread(target=lambda: got.append(table.acquire('x', 5)))
    waiter.start()
    time.sleep(0.05)  # (the outcome is the same if the waiter comes later)
    # The holder lets go and a prune drops the entry while the waiter waits;
    # whoever comes next must not get a lock of its own beside the waiter's.
    first.release()
    table.prune()
    waiter.join(5)
    assert got and got[0] is not None
    assert table.acquire('x', 0.05) is None  # the waiter holds the id's lock
    got[0].release()
    assert table.acquire('x', 0) is not None


def test_clean_thread_subscribed_on_load_and_stoppable():
    sess = RamSession(clean_freq=1)
    sess.load()
    monitor = RamSession.clean_thread
    assert monitor is not None and monitor.frequency == 60
    # The global engine is not running: no thread was started.
    assert monitor.thread is None
    RamSession.stop_clean_thread()
    assert RamSession.clean_thread is None


# -- FileSession ---------------------------------------------------------------


def test_file_storage_path_must_be_absolute():
    with pytest.raises(ValueError, match='relative/dir'):
        FileSession(storage_path='relative/dir')
    with pytest.raises(ValueError, match='storage_path'):
        FileSession()


def test_file_session_round_trip_and_survives_restart(file_kwargs):
    sess = FileSession(**file_kwargs)
    sess['n'] = [1, 2]
    sess.save()
    names = os.listdir(file_kwargs['storage_path'])
    # One data file, no temporary or lock file left behind.
    assert names == ['session-' + sess.id]
    RamSession.cache.clear()  # nothing in memory matters
    again = FileSession(sess.id, **file_kwargs)
    assert not again.missing and again['n'] == [1, 2]
    assert len(again) == 1


def test_file_corrupt_or_partial_file_is_missing(file_kwargs):
    sess = FileSession(**file_kwargs)
    sess['n'] = 1
    sess.save()
    path = os.path.join(file_kwargs['storage_path'], 'session-' + sess.id)
    data = open(path, 'rb').read()
    for broken in (data[:len(data) // 2], b'garbage', pickle.dumps('not a tuple')):
        with open(path, 'wb') as file:
            file.write(broken)
        again = FileSession(sess.id, **file_kwargs)
        assert again.missing and again.id != sess.id and again.get('n') is None


def test_file_save_is_atomic(file_kwargs, monkeypatch):
    sess = FileSession(**file_kwargs)
    sess['n'] = 'old'
    sess.save()
    path = os.path.join(file_kwargs['storage_path'], 'session-' + sess.id)
    before = open(path, 'rb').read()

    def crash(*args, **kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(os, 'fsync', crash)
    sess['n'] = 'new'
    with pytest.raises(OSError):
        sess.save()
    # The old file is intact and no temporary file is left.
    assert open(path, 'rb').read() == before
    assert os.listdir(file_kwargs['storage_path']) == ['session-' + sess.id]


def test_file_clean_up_removes_expired_and_corrupt(file_kwargs):
    keep, stale, bad = (FileSession(**file_kwargs) for _ in range(3))
    for sess in (keep, stale, bad):
        sess['a'] = 1
        sess.save()
    directory = file_kwargs['storage_path']
    with open(os.path.join(directory, 'session-' + stale.id), 'wb') as file:
        pickle.dump(({}, datetime.datetime.now() - datetime.timedelta(seconds=1)), file)
    with open(os.path.join(directory, 'session-' + bad.id), 'wb') as file:
        file.write(b'\x80junk')
    keep.clean_up()
    assert os.listdir(directory) == ['session-' + keep.id]


def test_file_lock_excludes_and_leaves_no_lock_file(file_kwargs):
    first = FileSession(**file_kwargs)
    first['a'] = 1
    first.save()
    first.acquire_lock()
    second = FileSession(first.id, lock_timeout=datetime.timedelta(milliseconds=50), **file_kwargs)
    with pytest.raises(LockTimeout):
        second.acquire_lock()
    first.release_lock()
    second.acquire_lock()
    second.release_lock()
    assert os.listdir(file_kwargs['storage_path']) == ['session-' + first.id]


def test_file_lock_is_released_when_the_holder_is_killed(tmp_path, file_kwargs):
    script = write_script(tmp_path, 'holder.py', f'''
        import time
        from pyframe.lib.sessions import FileSession
        sess = FileSession(storage_path={file_kwargs['storage_path']!r})
        sess.acquire_lock()
        print('LOCKED', sess.id, flush=True)
        time.sleep(60)
    ''')
    child = Child([script], cwd=tmp_path)
    try:
        output = child.wait_output('LOCKED')
        id = output.split('LOCKED', 1)[1].split()[0]
        waiter = FileSession(**file_kwargs, lock_timeout=0.05)
        waiter._id = id
        with pytest.raises(LockTimeout):
            waiter.acquire_lock()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        waiter.lock_timeout = 2
        waiter.acquire_lock()
        assert waiter.locked
        waiter.release_lock()
    finally:
        child.stop()


# -- the tool in-process -------------------------------------------------------


class Counter:
    @pyframe.expose
    def index(self):
        sess = sessions.session
        sess['count'] = sess.get('count', 0) + 1
        return str(sess['count'])

    @pyframe.expose
    def nothing(self):
        return 'untouched'

    @pyframe.expose
    def regen(self):
        box.sessions.regenerate()
        return sessions.session.id

    @pyframe.expose
    def bye(self):
        sessions.expire()
        return 'bye'

    @pyframe.expose
    def generated(self):
        def body():
            sessions.session['gen'] = 'yes'
            yield 'ok'
        return body()

    @pyframe.expose
    def read_gen(self):
        return str(sessions.session.get('gen'))

    @pyframe.expose
    def boom(self):
        sessions.session.acquire_lock()
        raise ValueError('handler failure')

    @pyframe.expose
    def implicit_boom(self):
        sessions.session['x'] = 1
        raise ValueError('handler failure')

    @pyframe.expose
    def streamed(self):
        def body():
            # Produced while the server sends the response: still locked.
            yield 'locked' if sessions.session.locked else 'unlocked'
            yield f' {len(RamSession.locks)}'
        return body()
    streamed._cp_config = {'response.stream': True}


def make_app(**options):
    config = {'sesstest.sessions.on': True}
    config.update({f'sesstest.sessions.{key}': value for key, value in options.items()})
    return Application(Counter(), '', {'/': config})


def cookies_of(headers) -> http.cookies.SimpleCookie:
    jar = http.cookies.SimpleCookie()
    jar.load(headers['Set-Cookie'])
    return jar


def get(app, path='/', id=None, name='session_id'):
    headers = {'Cookie': f'{name}={id}'} if id else None
    status, response_headers, body = wsgi_get(app, path, headers=headers)
    return status, cookies_of(response_headers)[name], body


def test_tool_counts_per_client():
    app = make_app()
    _, cookie, body = get(app)
    assert body == b'1'
    _, again, body = get(app, id=cookie.value)
    assert body == b'2' and again.value == cookie.value
    _, other, body = get(app)
    assert body == b'1' and other.value != cookie.value
    assert not hasattr(pyframe.serving, 'session')


def test_tool_replaces_unknown_id():
    app = make_app()
    fake = 'ab' * 20
    _, cookie, body = get(app, id=fake)
    assert body == b'1' and cookie.value != fake


def test_tool_default_cookie_attributes():
    _, cookie, _ = get(make_app())
    assert cookie['path'] == '/' and cookie['max-age'] == '3600'
    assert cookie['expires'] and not cookie['secure'] and not cookie['httponly']


def test_tool_untouched_session_is_not_saved():
    app = make_app()
    _, cookie, _ = get(app, '/nothing')
    assert cookie.value not in RamSession.cache


def test_tool_generator_body_is_saved():
    app = make_app()
    _, cookie, body = get(app, '/generated')
    assert body == b'ok'
    assert get(app, '/read_gen', id=cookie.value)[2] == b'yes'


def test_tool_lock_released_after_handler_error():
    app = make_app(locking='explicit')
    status, _, _ = get(app, '/boom')
    assert status.startswith('500')
    assert len(RamSession.locks) == 0


def test_tool_lock_released_after_implicit_handler_error():
    app = make_app()
    status, _, _ = get(app, '/implicit_boom')
    assert status.startswith('500')
    assert len(RamSession.locks) == 0


def test_tool_lock_held_while_a_stream_is_sent_and_released_after():
    app = make_app()
    status, _, body = get(app, '/streamed')
    assert status.startswith('200')
    assert body == b'locked 1'
    assert len(RamSession.locks) == 0


def test_tool_rejects_bad_options():
    for app in (make_app(samesite='Sometimes'), make_app(locking='never')):
        status, headers, _ = wsgi_get(app, '/')
        assert status.startswith('500') and 'Set-Cookie' not in headers


def test_storage_type_is_deprecated_but_works(file_kwargs):
    app = make_app(storage_type='file', **file_kwargs)
    with pytest.warns(DeprecationWarning, match='storage_class'):
        _, cookie, body = get(app)
    assert body == b'1'
    assert os.listdir(file_kwargs['storage_path']) == ['session-' + cookie.value]


def test_proxy_outside_a_session_says_what_to_do():
    with pytest.raises(AttributeError, match='tools.sessions'):
        sessions.session['x']
    assert not sessions.session


def test_concurrent_in_process_threads_lose_no_update():
    sess = RamSession()
    sess['n'] = 0
    sess.save()
    id = sess.id

    def work():
        for _ in range(50):
            mine = RamSession(id)
            mine.acquire_lock()
            mine['n'] += 1
            mine.save()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert RamSession(id)['n'] == 400
    wait_for(lambda: len(RamSession.locks) == 0)


@pytest.mark.parametrize('header, expected', [
    ('session_id=abc123', 'abc123'),
    ('a=1; session_id=abc123; b=2', 'abc123'),
    ('session_id=old;session_id=new', 'new'),
    ('other=1', None),
    ('session_id="quoted"', 'quoted'),           # through the stdlib parser
    ('$Version=1; session_id=abc; $Path=/', 'abc'),
])
def test_the_session_cookie_is_read_like_the_stdlib_parser_does(header, expected):
    """The fast path for plain Cookie headers and http.cookies agree."""
    from pyframe.request import Request
    from pyframe.lib.httputil import Host

    request = Request(Host('127.0.0.1', 80), Host('127.0.0.1', 1))
    request.wsgi_environ = {'HTTP_COOKIE': header}
    assert request._cookie_value('session_id') == expected
    request = Request(Host('127.0.0.1', 80), Host('127.0.0.1', 1))
    request.wsgi_environ = {'HTTP_COOKIE': header}
    morsel = request.cookie.get('session_id')
    assert (morsel.value if morsel is not None else None) == expected
