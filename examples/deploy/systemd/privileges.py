"""Serve as www-data: ``pyframed -i privileges`` when started as root.

DropPrivileges switches user at ``start`` priority 77, right after the HTTP
server (75) has bound its socket, so a root process may listen on port 80.
"""

import pyframe
from pyframe.process.plugins import DropPrivileges

DropPrivileges(pyframe.engine, uid='www-data', gid='www-data', umask=0o022).subscribe()
