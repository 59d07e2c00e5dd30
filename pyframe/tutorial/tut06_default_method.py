"""Tutorial 6: answering many URLs with one ``default`` method.

When the walk down the object tree finds no attribute for a path
segment, the deepest object reached may still answer through a method
named ``default``: the segments left over become its positional
arguments. Here ``/users/<name>`` is one virtual page per user, with no
object or method per user, and ``/users/<name>/<detail>`` passes both.

Run it with ``python -m pyframe.tutorial.tut06_default_method`` and open
http://127.0.0.1:8080/.
"""

import html
import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')

#: Who the site knows, and what they like.
MEMBERS = {'ada': 'engines', 'grace': 'compilers', 'linus': 'kernels'}


class Users:
    """/users/ lists the members; /users/<name> shows one of them."""

    @pyframe.expose
    def index(self):
        items = ''.join(f'<li><a href="{name}">{name}</a></li>' for name in sorted(MEMBERS))
        return f'<h1>Members</h1><ul>{items}</ul>'

    @pyframe.expose
    def default(self, name, detail=None):
        """Any /users/<name>[/<detail>] not otherwise found lands here."""
        if name not in MEMBERS:
            raise pyframe.NotFound()
        if detail is None:
            return (f'<h1>{html.escape(name)}</h1>'
                    f'<p><a href="{name}/likes">What {name} likes</a></p>'
                    '<p><a href="./">All members</a></p>')
        if detail == 'likes':
            return f'{html.escape(name)} likes {MEMBERS[name]}.'
        raise pyframe.NotFound()


class Root:
    def __init__(self):
        self.users = Users()

    @pyframe.expose
    def index(self):
        return '<a href="users/">Our members</a>'


if __name__ == '__main__':
    pyframe.quickstart(Root(), config=TUTORIAL_CONF)
