"""ecs/host.py: host.* for this machine's records and for remote nodes."""

from __future__ import annotations

import socket
from pathlib import Path

from audisp_eql import limits
from audisp_eql.ecs.host import HostDirectory, local_identity, named_identity, node_id
from harness.pipelines import documents_of
from harness.records import exec_event


def _root(tmp_path: Path, machine_id: str = "0123456789abcdef0123456789abcdef") -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "machine-id").write_text(machine_id + "\n")
    (tmp_path / "etc" / "os-release").write_text(
        'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3"\n'
        "# a comment\nnot a pair\n")
    return tmp_path


def test_local_identity_reads_machine_id_and_os_release(tmp_path: Path) -> None:
    host = local_identity(str(_root(tmp_path)), hostname="db1")
    doc = host.document
    assert doc["name"] == doc["hostname"] == "db1"
    assert doc["id"] == "0123456789abcdef0123456789abcdef"
    assert doc["os"]["family"] == "rhel"            # from ID_LIKE
    assert doc["os"]["platform"] == "rocky" and doc["os"]["name"] == "Rocky Linux"
    assert doc["os"]["version"] == "9.3 (Blue Onyx)" and doc["os"]["type"] == "linux"
    assert doc["os"]["kernel"] and doc["architecture"]


def test_a_malformed_machine_id_is_not_used(tmp_path: Path) -> None:
    host = local_identity(str(_root(tmp_path, "not-an-id\x1b[31m")), hostname="x")
    assert "id" not in host.document


def test_node_ids_are_stable_and_distinct() -> None:
    assert node_id("web1") == node_id("web1") == named_identity("web1").document["id"]
    assert node_id("web1") != node_id("web2") and len(node_id("web1")) == 32


def test_directory_bounds_the_nodes_it_remembers() -> None:
    with limits.lowered(MAX_HOST_IDENTITIES=4):
        hosts = HostDirectory(None)
        for i in range(20):
            assert hosts.host(f"n{i}").document["name"] == f"n{i}"
        assert len(hosts._nodes) <= 4
    assert hosts.host(None) is None


def test_documents_name_this_machine_or_the_node() -> None:
    local = b"".join(exec_event(1, ["id"], "/usr/bin/id"))
    remote = b"node=web1 " + local.replace(b"\ntype=", b"\nnode=web1 type=")
    [mine] = documents_of(local)
    [theirs] = documents_of(remote)
    assert mine["host"]["name"] == socket.gethostname()
    assert mine["host"]["id"] == Path("/etc/machine-id").read_text().strip()
    assert theirs["host"] == {"os": {"type": "linux"}, "name": "web1", "hostname": "web1",
                              "id": node_id("web1")}
    [named] = documents_of(local, hostname="archive-7")
    assert named["host"]["name"] == "archive-7" and named["host"]["id"] == node_id("archive-7")
    [bare] = documents_of(local, local_host=False)
    assert bare["host"] == {"os": {"type": "linux"}}
