"""The data notices list every shared file, and their sha256 checksums match what is on disk."""
import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_sources_cover_manifest_and_checksums_match(shared_dir):
    sources = json.loads((REPO / "third_party/data_sources.json").read_text())
    manifest = json.loads((shared_dir / "data/MANIFEST.json").read_text())
    assert {s["file"] for s in sources} == {m["file"] for m in manifest}
    out = subprocess.run([sys.executable, str(REPO / "third_party/fetch_data.py"), f"--out={shared_dir}",
                          "--verify"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("ok ") == len(sources)


def test_verify_flags_a_corrupted_file(tmp_path, shared_dir):
    entry = json.loads((REPO / "third_party/data_sources.json").read_text())[0]
    dest = tmp_path / entry["file"]
    dest.parent.mkdir(parents=True)
    dest.write_bytes((shared_dir / entry["file"]).read_bytes() + b"\n")
    one = tmp_path / "one.json"
    one.write_text(json.dumps([entry]))
    out = subprocess.run([sys.executable, str(REPO / "third_party/fetch_data.py"), f"--out={tmp_path}",
                          "--verify", f"--sources={one}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "MISMATCH" in out.stdout
