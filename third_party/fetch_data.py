"""Fetches the benchmark and training files from their upstream repositories and checks their sha256.

jaxpt never downloads at run time; this script is for a user with internet who wants the same files we test
on (the list, with commits and checksums, is third_party/data_sources.json):

    python third_party/fetch_data.py --out=../shared          # download + verify
    python third_party/fetch_data.py --out=../shared --verify  # only verify files already there
"""
import argparse
import hashlib
import json
import pathlib
import sys
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
# Raw-file URL of a public repository at a commit; override with --url-template for a mirror.
DEFAULT_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory that will hold data/bench/... and data/train/...")
    ap.add_argument("--verify", action="store_true", help="do not download; check existing files")
    ap.add_argument("--url-template", default=DEFAULT_TEMPLATE)
    ap.add_argument("--sources", default=str(HERE / "data_sources.json"))
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    bad = 0
    for entry in json.loads(pathlib.Path(args.sources).read_text()):
        dest = out / entry["file"]
        if not args.verify:
            url = args.url_template.format(repo=entry["source_repo"], commit=entry["source_commit"],
                                           path=entry["source_path"])
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(dest.suffix + ".part")
            print(f"fetching {url}")
            urllib.request.urlretrieve(url, tmp)
            tmp.replace(dest)
        if not dest.is_file():
            print(f"MISSING  {dest}")
            bad += 1
            continue
        digest = sha256(dest)
        ok = digest == entry["sha256"]
        bad += not ok
        print(f"{'ok' if ok else 'MISMATCH':8s} {dest} ({entry['rows']} rows, {entry['repo_license']})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
