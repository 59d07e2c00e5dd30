"""Tutorial 9: uploading and downloading files.

An uploaded file reaches its handler as a part object: ``.file`` is the
(temporary) file holding the data, ``.filename`` the name the browser gave
and ``.content_type`` its media type. The form needs
``enctype="multipart/form-data"``.

To send a file as a download, :func:`pyframe.lib.static.serve_file` sets
the Content-Type, Content-Length and, with ``disposition='attachment'``,
the Content-Disposition header that makes browsers save it.

Run it with ``python -m pyframe.tutorial.tut09_files`` and open
http://127.0.0.1:8080/.
"""

import hashlib
import os

import pyframe
from pyframe.lib.static import serve_file

#: Where this tutorial keeps the files it offers for download.
HERE = os.path.dirname(os.path.abspath(__file__))


class FileDemo:
    """Upload a file and see what arrived; download this tutorial's source."""

    @pyframe.expose
    def index(self):
        """The upload form and a download link."""
        return """<html><body>
            <h2>Upload a file</h2>
            <form action="upload" method="post" enctype="multipart/form-data">
            filename: <input type="file" name="myFile" /><br />
            <input type="submit" />
            </form>
            <h2>Download a file</h2>
            <a href="download">This tutorial's own source</a>
        </body></html>"""

    @pyframe.expose
    def upload(self, myFile):
        """Read the upload in blocks (it may be large) and describe it."""
        size = 0
        digest = hashlib.sha256()
        while True:
            data = myFile.file.read(8192)
            if not data:
                break
            size += len(data)
            digest.update(data)
        return f"""<html><body>
            myFile length: {size}<br />
            myFile filename: {myFile.filename}<br />
            myFile mime-type: {myFile.content_type}<br />
            myFile sha256: {digest.hexdigest()}
        </body></html>"""

    @pyframe.expose
    def download(self):
        """Send this module's source as an attachment."""
        path = os.path.join(HERE, 'tut09_files.py')
        return serve_file(path, 'application/x-download', 'attachment')


if __name__ == '__main__':
    pyframe.quickstart(FileDemo())
