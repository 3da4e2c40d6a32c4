"""digest.py's hashes (CPython's own, without OpenSSL) are hashlib's and uuid's."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid

from audisp_eql.digest import sha1, sha256, uuid5
from audisp_eql.ecs.host import NODE_ID_NAMESPACE, node_id


def test_same_digests_as_hashlib() -> None:
    for data in (b"", b"abc", b"host|42|1700000000.005:77", bytes(range(256)) * 9,
                 "h\u00f6st|\udcff".encode("utf-8", "surrogatepass")):
        assert sha256(data).digest() == hashlib.sha256(data).digest()
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
        assert sha1(data).digest() == hashlib.sha1(data).digest()


def test_same_name_based_uuids_as_uuid5() -> None:
    for name in ("", "web-01", "n\u00f6de.example.org", "x" * 300):
        assert uuid5(NODE_ID_NAMESPACE, name) == uuid.uuid5(NODE_ID_NAMESPACE, name)
        assert uuid5(uuid.NAMESPACE_DNS, name) == uuid.uuid5(uuid.NAMESPACE_DNS, name)
    assert node_id("web-01") == uuid.uuid5(NODE_ID_NAMESPACE, "web-01").hex


def test_the_plugin_path_does_not_load_openssl() -> None:
    """Building documents (entity ids, remote hosts' ids) and alerts leaves
    OpenSSL unloaded: it would cost the plugin 3.5 MiB of memory."""
    code = (
        "import sys\n"
        "import audisp_eql.daemon, audisp_eql.detector, audisp_eql.pipeline\n"
        "from audisp_eql.ecs.entity import entity_id\n"
        "from audisp_eql.ecs.host import node_id\n"
        "entity_id('h', 1, 'x'); node_id('n')\n"
        "print('_hashlib' in sys.modules, '_ssl' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["False", "False"]
