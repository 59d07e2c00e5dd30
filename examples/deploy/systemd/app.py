"""A tiny application for the deployment examples: ``pyframed -i app``."""

import os

import pyframe


class Root:
    """Answers every visit with the id of the process that served it."""

    @pyframe.expose
    def index(self) -> str:
        """Say hello, naming the serving process."""
        return f'Hello from process {os.getpid()}\n'


pyframe.tree.mount(Root())
