"""ecs/paths.py and ecs/sockaddr.py: the decoding the file and network
documents rest on, on real layouts and on hostile ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audisp_eql.ecs import BuildContext
from audisp_eql.ecs.openflags import opens_for_write
from audisp_eql.ecs.paths import absolute, extension, file_fields, is_cwd_dirfd, parse_items
from audisp_eql.ecs.sockaddr import decode

X86_64, I386, PPC64 = "c000003e", "40000003", "80000015"


@pytest.mark.parametrize("name, cwd, relative_to_cwd, expected", [
    ("/etc/cron.d/job", "/tmp", True, "/etc/cron.d/job"),
    ("job", "/etc/cron.d", True, "/etc/cron.d/job"),
    ("../etc/./cron.d//job", "/tmp", True, "/etc/cron.d/job"),
    ("//etc/passwd", "/", True, "/etc/passwd"),
    ("job", "/etc/cron.d", False, None),        # relative to another directory fd: unknown
    ("job", None, True, None),                  # no CWD record
    ("job", "relative", True, None),
    ("", "/tmp", True, None),
    (None, "/tmp", True, None),
])
def test_absolute_paths(name, cwd, relative_to_cwd, expected) -> None:
    assert absolute(name, cwd, relative_to_cwd) == expected


def test_at_fdcwd_as_the_kernel_logs_it() -> None:
    assert is_cwd_dirfd("ffffff9c") and is_cwd_dirfd("ffffffffffffff9c")
    assert not is_cwd_dirfd("3") and not is_cwd_dirfd("zz") and not is_cwd_dirfd(None)


@pytest.mark.parametrize("name, ext", [
    ("x.tar.gz", "gz"), (".bashrc", None), ("noext", None), ("trailing.", None),
    (".hidden.so", "so"), ("Service.SERVICE", "SERVICE"),
])
def test_extension(name, ext) -> None:
    assert extension(name) == ext


def test_path_items_real_layout_hex_names_and_enriched_owner() -> None:
    items = parse_items([
        'item=1 name="/etc/cron.d/job" inode=819 dev=fe:00 mode=0100644 ouid=0 ogid=42 '
        'rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0\x1dOUID="root" OGID="shadow"',
        'item=0 name="/etc/cron.d/" inode=498 dev=fe:00 mode=040755 ouid=0 ogid=0 rdev=00:00 '
        'nametype=PARENT',
        'item=2 name=2F746D702F6120622E747874 inode=9 mode=0140755 nametype=NORMAL',
        'item=3 name=(null) inode=5 nametype=PARENT',
    ])
    assert [i.item for i in items] == [0, 1, 2, 3]          # sorted by item number
    assert items[2].name == "/tmp/a b.txt" and items[3].name is None
    created = file_fields(BuildContext(), items[1], "/etc/cron.d/job")
    assert created == {"path": "/etc/cron.d/job", "name": "job", "directory": "/etc/cron.d",
                       "inode": "819", "mode": "0644", "type": "file", "uid": "0",
                       "owner": "root", "gid": "42", "group": "shadow"}
    assert file_fields(BuildContext(), items[2], None)["type"] == "socket"


def test_hostile_path_fields_do_not_raise() -> None:
    items = parse_items(['item=x name="\x00\n" inode= mode=99999999 ouid= nametype=',
                         'garbage', '', 'item=1 mode=0777777777777777777777'])
    for item in items:
        file_fields(BuildContext(), item, absolute(item.name, "/", True))


def test_open_flags_per_architecture() -> None:
    assert opens_for_write(0o1, X86_64) and opens_for_write(0o2, X86_64)
    assert opens_for_write(0o1000, X86_64)           # O_TRUNC
    assert opens_for_write(0o2000, X86_64)           # O_APPEND
    assert not opens_for_write(0o100, X86_64)        # O_CREAT of an existing file, read only
    assert not opens_for_write(0o2000, "c0000008")   # mips: 0o2000 is not O_APPEND ...
    assert opens_for_write(0x8, "c0000008")          # ... 0x8 is
    assert not opens_for_write(0o1000, "deadbeef")   # unknown arch: access mode only


# saddr values as the kernel wrote them (debian12-auditd capture, laurel's ppc64 test).
@pytest.mark.parametrize("saddr, arch, family, ip, port, path", [
    ("0200A4D87F0000010000000000000000", X86_64, 2, "127.0.0.1", 42200, None),
    ("0A00A4D8000000000000000000000000000000000000000000000000", X86_64, 10, "::", 42200, None),
    ("0A000050" "00000000" "00000000000000000000FFFF0A000001" "00000000", X86_64, 10, "10.0.0.1",
     80, None),
    ("01002F72756E2F636170322E5A554E504B502F63746C2E736F636B00", X86_64, 1, None, None,
     "/run/cap2.ZUNPKP/ctl.sock"),
    ("01002F7661722F72756E2F6E7363642F736F636B6574009F8DC8AD", X86_64, 1, None, None,
     "/var/run/nscd/socket"),                     # garbage after the NUL
    ("0100006162630064", X86_64, 1, None, None, "@abc\x00d"),   # abstract, NUL inside
    ("0100", X86_64, 1, None, None, None),        # unnamed peer
    ("100000000000000000000000", X86_64, 16, None, None, None),
    ("00021F907F000001", PPC64, 2, "127.0.0.1", 8080, None),     # big-endian family
    ("2600", X86_64, 38, None, None, None),
])
def test_socket_addresses(saddr, arch, family, ip, port, path) -> None:
    address = decode(saddr, arch)
    assert address is not None
    assert (address.family, address.ip, address.port, address.path) == (family, ip, port, path)


@pytest.mark.parametrize("saddr", [None, "", "0", "ZZZZ", "02", "0200A4", "0A00"])
def test_short_or_bad_socket_addresses(saddr) -> None:
    address = decode(saddr, X86_64)
    assert address is None or address.ip is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([X86_64, I386, PPC64, "", "zz"]))
def test_any_socket_address_bytes(data: bytes, arch: str) -> None:
    address = decode(data.hex().upper(), arch)
    if len(data) < 2:
        assert address is None
    else:
        assert address is not None and 0 <= address.family < 65536
