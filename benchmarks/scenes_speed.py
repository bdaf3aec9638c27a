#!/usr/bin/env python3
"""Scene speed and memory: describe all 442 scenes (1 and 2 processes), build one default scene in
bpy (time, peak RSS, in a fresh subprocess) and sample viewpoints; the bpy build is compared with a
reference that builds the same parts with ``bpy.ops.mesh.primitive_*_add`` (one operator call per part).

Targets (issue 3): describing 442 scenes < 60 s on 2 cores; one bpy build < 10 s and < 2 GB.
Usage: python benchmarks/scenes_speed.py [--scenes 442] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUILD_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import bpy
import numpy as np
t_import = time.perf_counter() - t0
rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from scenes import generate
from synth.blender.build_scene import build_scene
from synth.blender.viewpoints import sample_viewpoints
scene = generate({scene_id}, {seed})
t0 = time.perf_counter()
built = build_scene(scene)
t_build = time.perf_counter() - t0
t0 = time.perf_counter()
views = sample_viewpoints(built, 8, np.random.default_rng([{seed}, {scene_id}]))
t_views = time.perf_counter() - t0
out = dict(import_s=t_import, build_s=t_build, views8_s=t_views, rss_import_mb=rss_import,
           peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           objects=len(scene.objects), materials=len(scene.materials),
           faces=sum(len(o.data.polygons) for o in bpy.data.objects if o.type == "MESH"))
if {reference}:
    from synth.blender.build_scene import clear_scene
    clear_scene()
    t0 = time.perf_counter()
    for obj in scene.objects:
        for p in obj.parts:
            if p.shape == "box":
                bpy.ops.mesh.primitive_cube_add(size=1.0, location=p.center, scale=[s / 1.0 for s in p.size])
            elif p.shape == "sphere":
                bpy.ops.mesh.primitive_uv_sphere_add(radius=p.size[0] / 2, location=p.center)
            else:
                bpy.ops.mesh.primitive_cylinder_add(radius=p.size[0] / 2, depth=p.size[2], location=p.center)
    out["reference_ops_s"] = time.perf_counter() - t0
    out["parts"] = sum(len(o.parts) for o in scene.objects)
print("RESULT " + json.dumps(out))
"""


def _describe(ids_seed):
    from scenes import generate
    ids, seed = ids_seed
    return sum(len(generate(i, seed).to_json()) for i in ids)


def describe_all(n: int, seed: int, procs: int) -> float:
    t0 = time.perf_counter()
    if procs == 1:
        _describe((range(n), seed))
    else:
        chunks = [(list(range(k, n, procs)), seed) for k in range(procs)]
        with Pool(procs) as pool:
            pool.map(_describe, chunks)
    return time.perf_counter() - t0


def build_in_subprocess(scene_id: int, seed: int, reference: bool) -> dict:
    code = BUILD_CHILD.format(root=str(ROOT), scene_id=scene_id, seed=seed, reference=reference)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=442, help="scenes to describe (default 442)")
    ap.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    args = ap.parse_args()

    t1 = describe_all(args.scenes, args.seed, 1)
    print(f"describe {args.scenes} scenes, 1 process : {t1:6.2f} s  ({1000 * t1 / args.scenes:.1f} ms/scene, "
          f"target < 60 s: {60 / t1:.1f}x margin)")
    t2 = describe_all(args.scenes, args.seed, 2)
    print(f"describe {args.scenes} scenes, 2 processes: {t2:6.2f} s  (speed-up {t1 / t2:.2f}x)")

    r = build_in_subprocess(0, args.seed, reference=True)
    print(f"bpy build of default scene 0 ({r['objects']} objects, {r['parts']} parts, {r['materials']} materials, "
          f"{r['faces']} faces): {r['build_s']:.3f} s, peak RSS {r['peak_rss_mb']:.0f} MB "
          f"(after 'import bpy': {r['rss_import_mb']:.0f} MB, import {r['import_s']:.2f} s)")
    print(f"  reference bpy.ops primitives, one call per part (geometry only): {r['reference_ops_s']:.3f} s "
          f"-> build_scene is {r['reference_ops_s'] / r['build_s']:.1f}x faster and also makes materials/lights")
    print(f"  8 viewpoints by ray casting: {r['views8_s']:.3f} s")
    worst = max((build_in_subprocess(i, args.seed, reference=False) for i in (5, 7, 13)), key=lambda d: d["build_s"])
    print(f"largest of scenes 5/7/13 (shop/cafe): build {worst['build_s']:.3f} s, peak RSS {worst['peak_rss_mb']:.0f} MB, "
          f"{worst['objects']} objects")


if __name__ == "__main__":
    main()
