"""A starting project: copy this folder, rename it, and run ``pyframed -c site.conf``.

Importing the package builds :data:`app` (the demo application below,
configured by ``app.conf`` next to this file) and mounts it at the site
root. ``site.conf`` names ``pyframe.scaffold.app`` in its ``tree.*``
namespace, so ``pyframed -c site.conf`` alone imports and serves it; after
renaming the copy, change that dotted name to your package's, and run
``pyframed -P .. -c site.conf`` from the folder so the package is importable.
"""

import os

import pyframe

__all__ = ['Root', 'app', 'HERE']

#: The package directory; static files are served from ``HERE/static``.
HERE = os.path.dirname(os.path.abspath(__file__))

_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<h1>{title}</h1>
{body}
<p class="nav"><a href="{home}">Home</a> | <a href="{about}">About</a> |
<a href="{status}">Status (JSON)</a></p>
</body>
</html>
"""


def _page(title, body):
    return _PAGE.format(
        title=title,
        body=body,
        css=pyframe.url('/static/site.css', relative='server'),
        home=pyframe.url('/', relative='server'),
        about=pyframe.url('/about', relative='server'),
        status=pyframe.url('/status', relative='server'),
    )


class Root:
    """The demo site: replace these handlers with your own."""

    @pyframe.expose
    def index(self):
        visits = pyframe.session.get('visits', 0) + 1
        pyframe.session['visits'] = visits
        return _page(
            'Welcome to your new pyframe site',
            f'<p>You have seen this page {visits} time(s) in this session.</p>',
        )

    @pyframe.expose
    def about(self):
        return _page(
            'About',
            '<p>This site was started from <code>pyframe.scaffold</code>.</p>',
        )

    @pyframe.expose
    @pyframe.tools.json_out()
    def status(self):
        return {
            'status': 'ok',
            'visits': pyframe.session.get('visits', 0),
        }


#: The application; its static root is this package's directory, so that
#: the relative ``tools.staticdir.dir`` of app.conf works from anywhere.
app = pyframe.Application(
    Root(), '', config={'/static': {'tools.staticdir.root': HERE}}
)
app.merge(os.path.join(HERE, 'app.conf'))
pyframe.tree.mount(app)
