"""Tutorial 9: keep the generated strings in an SQLite database.

Run ``python examples/tutorial09_sqlite/tut09.py`` and open
http://127.0.0.1:8080/ (``PYFRAME_PORT`` picks another port). The page and
the ``/generator`` web service are tutorial 8's; only the storage changes:
each visitor's string is a row of the ``user_string`` table, keyed by the
session id.

Both the database and the sessions live on disk, so a string survives a
restart of the server. ``PYFRAME_DB`` names the database file (default
``my.db`` in the current directory); ``PYFRAME_SESSIONS`` the session
directory (default ``sessions`` beside the database).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pyframe
from pyframe.lib.sessions import FileSession

HERE = Path(__file__).resolve().parent
# Tutorial 9 keeps tutorial 8's page, config and string maker: import them.
sys.path.insert(0, str(HERE.parent / 'tutorial08_ajax'))
from tut08 import PUBLIC, StringGenerator, make_config, make_string, port  # noqa: E402


class StringStore:
    """The ``user_string`` table, used through one connection per thread.

    Python's sqlite3 connections belong to the thread that opened them and
    the server answers requests from a pool of threads, so each request
    thread gets its own connection. The engine says when: ``start_thread``
    is published the first time a thread serves a request, ``stop_thread``
    when the engine stops.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        #: Thread index -> that thread's open connection.
        self._connections: dict[int, sqlite3.Connection] = {}

    def create_table(self) -> None:
        """Create the table unless an earlier run already did."""
        with closing(sqlite3.connect(self.path)) as con, con:
            con.execute('CREATE TABLE IF NOT EXISTS user_string '
                        '(session_id TEXT PRIMARY KEY, value TEXT NOT NULL)')

    def open_connection(self, thread_index: int) -> None:
        """Open the calling request thread's connection."""
        # stop_thread is published from the main thread at shutdown, so
        # close() must be allowed from there; apart from that, a
        # connection is only ever used by the thread that opened it.
        con = sqlite3.connect(self.path, check_same_thread=False)
        self._local.connection = con
        self._connections[thread_index] = con

    def close_connection(self, thread_index: int) -> None:
        """Close the connection of request thread ``thread_index``."""
        con = self._connections.pop(thread_index, None)
        if con is not None:
            con.close()
            pyframe.engine.log(f'Closed the database connection of thread {thread_index}.')

    def get(self, key: str) -> str | None:
        """The string stored under ``key``, or None."""
        row = self._local.connection.execute(
            'SELECT value FROM user_string WHERE session_id = ?', [key]).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier string."""
        # "with con" commits on success and rolls back on an error.
        with self._local.connection as con:
            con.execute('INSERT OR REPLACE INTO user_string VALUES (?, ?)', [key, value])

    def delete(self, key: str) -> None:
        """Forget the string stored under ``key``."""
        with self._local.connection as con:
            con.execute('DELETE FROM user_string WHERE session_id = ?', [key])


def visitor() -> str:
    """The session id that keys the current visitor's row."""
    # A session holding nothing is never saved, and its id would not be
    # recognised next time: keep a timestamp in it so the id lasts.
    pyframe.session['ts'] = time.time()
    return pyframe.session.id


@pyframe.expose
class StringGeneratorWebService:
    """Tutorial 8's web service, reading and writing the database."""

    def __init__(self, store: StringStore) -> None:
        self.store = store

    @pyframe.tools.accept(media='text/plain')
    def GET(self) -> str:
        """The visitor's string (404 when there is none)."""
        value = self.store.get(visitor())
        if value is None:
            raise pyframe.HTTPError(404, 'No string yet: POST to make one.')
        return value

    def POST(self, length: str = '8') -> str:
        """Make, store and return a new string."""
        some_string = make_string(length)
        self.store.put(visitor(), some_string)
        return some_string

    def PUT(self, another_string: str) -> None:
        """Replace the visitor's string."""
        self.store.put(visitor(), another_string)

    def DELETE(self) -> None:
        """Forget the visitor's string."""
        self.store.delete(visitor())


def data_paths() -> tuple[Path, Path]:
    """The database file and the session directory, from the environment."""
    database = Path(os.environ.get('PYFRAME_DB', 'my.db')).resolve()
    sessions = Path(os.environ.get('PYFRAME_SESSIONS', database.parent / 'sessions')).resolve()
    return database, sessions


def main(public: Path = PUBLIC) -> None:
    """Serve the page found in ``public`` and the database-backed service."""
    database, sessions = data_paths()
    sessions.mkdir(parents=True, exist_ok=True)

    store = StringStore(database)
    pyframe.engine.subscribe('start', store.create_table)
    pyframe.engine.subscribe('start_thread', store.open_connection)
    pyframe.engine.subscribe('stop_thread', store.close_connection)

    config = make_config(public)
    config['/'].update({
        'tools.sessions.storage_class': FileSession,
        'tools.sessions.storage_path': str(sessions),
    })
    pyframe.config.update({'server.socket_host': '127.0.0.1', 'server.socket_port': port()})
    webapp = StringGenerator(public)
    webapp.generator = StringGeneratorWebService(store)
    pyframe.quickstart(webapp, '/', config)


if __name__ == '__main__':
    main()
