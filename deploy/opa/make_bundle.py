"""Lay out policies/ as an OPA bundle, so an OPA server (compose service, Kubernetes sidecar)
serves exactly what the embedded engine and the REST push serve: every non-test module, and
each data file at data.customs.<file stem> (OPA bundles take data only from `data.json` files,
at the path of their directory). The manifest's revision is Customs' own bundle revision, so
the proxy's audit events and OPA's decision logs name the same revision.

Run (in the Customs image or the repo venv):
    python deploy/opa/make_bundle.py POLICY_DIR OUT_DIR [--tar OUT.tar.gz]
then `opa run --server --bundle OUT_DIR` (or serve OUT.tar.gz from a bundle server).
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if (REPO / "proxy").is_dir() and str(REPO) not in sys.path:  # from a checkout; the image has it installed
    sys.path.insert(0, str(REPO))

from proxy.policy import DATA_ROOT, read_bundle  # noqa: E402


def bundle_files(policy_dir: Path) -> dict[str, bytes]:
    """The bundle as {path inside the bundle: content}, manifest included."""
    bundle = read_bundle(policy_dir)
    files: dict[str, bytes] = {}
    for rel, source in sorted(bundle.policy_modules.items()):
        files[rel] = source.encode()
    for stem, value in sorted(bundle.data.items()):
        # Same shape the REST push uses: a non-object document is wrapped under "value".
        doc = value if isinstance(value, dict) else {"value": value}
        files[f"{DATA_ROOT}/{stem}/data.json"] = json.dumps(doc, sort_keys=True, indent=1).encode()
    manifest = {"revision": bundle.revision, "roots": [DATA_ROOT], "rego_version": 1}
    files[".manifest"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def write_dir(files: dict[str, bytes], out: Path) -> None:
    """Replace `out` with the bundle directory."""
    if out.exists():
        for child in out.iterdir():  # out may be a mounted volume: empty it, do not remove it
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for rel, content in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def write_tar(files: dict[str, bytes], out: Path) -> None:
    """The bundle as a .tar.gz, the form OPA's bundle service downloads."""
    with tarfile.open(out, "w:gz") as tar:
        for rel, content in files.items():
            info = tarfile.TarInfo("/" + rel)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Lay out a Customs policy directory as an OPA bundle.")
    ap.add_argument("policy_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--tar", type=Path, help="also write the bundle as a .tar.gz")
    args = ap.parse_args(argv)
    files = bundle_files(args.policy_dir)
    write_dir(files, args.out_dir)
    if args.tar:
        write_tar(files, args.tar)
    print(f"bundle revision {json.loads(files['.manifest'])['revision']}: {len(files)} files in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
