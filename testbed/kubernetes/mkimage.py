#!/usr/bin/env python3
"""Write a one-layer container image (docker-archive tar, as `docker save` writes) that holds static
binaries, without Docker and without a registry. `ctr images import` reads the result.

    mkimage.py OUT.tar NAME:TAG ENTRYPOINT_JSON SRC=DEST [SRC=DEST ...]

Deterministic: the same inputs give the same bytes (and so the same image ID).
"""
import hashlib
import io
import json
import sys
import tarfile


def main():
    out, ref, entrypoint, *files = sys.argv[1:]
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as t:
        dirs = {"etc", "tmp", "dev", "proc", "sys", "var", "var/run"}
        for spec in files:
            dest = spec.split("=", 1)[1].lstrip("/")
            parts = dest.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755, 0
            t.addfile(info)
        for spec in files:
            src, dest = spec.split("=", 1)
            with open(src, "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(dest.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            t.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    layer_id = hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": json.loads(entrypoint), "Env": ["PATH=/usr/local/bin:/bin"],
                   "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_id]},
        "history": [{"created_by": "flinkops testbed/kubernetes/mkimage.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_id + "/layer.tar"]}]
    with tarfile.open(out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in ((layer_id + "/layer.tar", layer_bytes), (config_name, config_bytes),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            t.addfile(info, io.BytesIO(data))
    print(config_name[:-5])


if __name__ == "__main__":
    main()
