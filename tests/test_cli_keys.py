"""The key commands: keygen, cluster-key, id and pubkey, with the key-file rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from actorkit import cli, net


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorkit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keygen_writes_a_0600_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """keygen creates the file with mode 0600 and never overwrites one."""
    path = tmp_path / "node.key"
    assert cli.main(["keygen", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    assert cli.main(["keygen", str(path)]) == 1
    assert before == path.read_bytes()


def test_id_and_pubkey_print_the_node_id(tmp_path: Path) -> None:
    """id prints the node id and fingerprint; pubkey prints the node id from stdin."""
    path = tmp_path / "node.key"
    identity = net.write_identity(path)
    shown = run("id", str(path))
    assert shown.returncode == 0
    assert f"{identity.public}  {identity.public.fingerprint}" == shown.stdout.strip()
    piped = run("pubkey", stdin=path.read_text())
    assert piped.returncode == 0
    assert str(identity.public) == piped.stdout.strip()
    assert identity._seed().hex() not in shown.stdout + piped.stdout


def test_a_too_open_key_file_is_refused_with_a_chmod_hint(tmp_path: Path) -> None:
    """Loading a key readable by others fails, saying which chmod fixes it."""
    path = tmp_path / "node.key"
    net.write_identity(path)
    os.chmod(path, 0o644)
    result = run("id", str(path))
    assert result.returncode == 1
    assert f"chmod 600 {path}" in result.stderr


def test_pubkey_refuses_garbage() -> None:
    """pubkey on stdin that is not a key exits 1 with a clear message."""
    result = run("pubkey", stdin="not a key\n")
    assert result.returncode == 1
    assert "identity key" in result.stderr


def test_cluster_key_is_written_once(tmp_path: Path) -> None:
    """cluster-key writes a loadable secret, mode 0600, and refuses to overwrite it."""
    path = tmp_path / "cluster.key"
    assert cli.main(["cluster-key", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    net.load_cluster_key(path)
    assert cli.main(["cluster-key", str(path)]) == 1
