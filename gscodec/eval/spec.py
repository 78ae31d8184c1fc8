"""The bench spec (scenes x codecs x rate points, resources) and the jobs it expands to: plain
data, parsed and checked before anything runs (gscodec.eval.harness runs them)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib

from gscodec.errors import InputError
from gscodec.utils.config import ConfigBase


# ---- spec ------------------------------------------------------------------------------
@dataclass
class SceneSpec:
    name: str
    source: str
    dataset: str = ""
    downscale: int = 1
    train: dict = field(default_factory=dict)

    @property
    def is_ply(self) -> bool:
        return self.source.lower().endswith(".ply")


@dataclass
class CodecSpec:
    label: str
    name: str
    config: dict = field(default_factory=dict)
    rate_param: str | None = None
    rates: list = field(default_factory=lambda: [None])
    train_with_compression: bool | None = None
    resources: dict = field(default_factory=dict)  # Resources fields for this codec's jobs
    train: dict = field(default_factory=dict)  # TrainConfig fields for this codec's trainings (over the scene's)


@dataclass
class Resources(ConfigBase):
    """What one job asks of a Ray cluster. None leaves it to the engine, which fits the job's
    kind: 1 CPU; 1 GPU for a job that trains, when the cluster has GPUs; no memory reservation.
    The local engine ignores it (jobs run one at a time in this process)."""

    WHAT: ClassVar[str] = "resources"
    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: float | None = None  # bytes Ray reserves for the task

    def validate(self) -> Resources:
        for k in ("num_cpus", "num_gpus", "memory"):
            v = getattr(self, k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise InputError(f"resources: {k} must be a number >= 0, got {v!r}")
        return self


@dataclass
class Spec:
    name: str
    out: str
    scenes: list[SceneSpec]
    codecs: list[CodecSpec]
    train: dict = field(default_factory=dict)
    anchor: str | None = None
    views: int = 12
    resolution: int = 128
    lpips_weights: str | None = None
    references: list[str] | None = None  # published methods to show (None: all for the dataset)
    notes: str = ""  # free text copied into the report
    work: str | None = None  # trained scenes and job files (None: OUT/work)
    resources: dict = field(default_factory=dict)  # Resources fields for every job (Ray engine)
    report: str | None = None  # a report plug-in: a Python file adding sections to `gscodec report`

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _read_spec_file(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: no such spec file")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(f"{path}: YAML specs need PyYAML (pip install pyyaml); or write it as TOML") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{path}: invalid YAML ({e})") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: invalid TOML ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a spec must be a table/mapping at the top level")
    return data


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", str(s)).strip("_") or "x"


def spec_from_dict(data: dict, default_name: str = "bench") -> Spec:
    known = {"name", "out", "scene", "scenes", "codec", "codecs", "train", "anchor", "views", "resolution",
             "lpips_weights", "references", "notes", "work", "resources", "report"}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"spec: unknown keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    name = str(data.get("name", default_name))
    scenes_raw = data.get("scene", data.get("scenes", []))
    codecs_raw = data.get("codec", data.get("codecs", []))
    if not scenes_raw:
        raise InputError("spec: no [[scene]] entries")
    if not codecs_raw:
        raise InputError("spec: no [[codec]] entries")
    scenes = []
    for i, s in enumerate(scenes_raw):
        s = _spec_entry(s, i, "scene", "source", SceneSpec)
        src = str(s["source"])
        sname = str(s.get("name") or Path(src).stem or src)
        scenes.append(SceneSpec(name=sname, source=src, dataset=str(s.get("dataset") or sname),
                                downscale=int(s.get("downscale", 1)),
                                train=_table(s.get("train", {}), f"spec: scene {i}: train")))
    resources = _resources(data.get("resources", {}), "spec: [resources]")
    codecs = []
    for i, c in enumerate(codecs_raw):
        c = _spec_entry(c, i, "codec", "name", CodecSpec)
        rates = c.get("rates")
        rate_param = c.get("rate_param")
        if rates is None:
            rates = [None]
        elif rate_param is None:
            raise InputError(f"spec: codec {i} lists rates but no rate_param (e.g. 'quality' or 'lambda')")
        if not isinstance(rates, list) or not rates:
            raise InputError(f"spec: codec {i}: rates must be a non-empty list")
        codecs.append(CodecSpec(label=str(c.get("label") or c["name"]), name=str(c["name"]),
                                config=dict(c.get("config", {})), rate_param=rate_param, rates=list(rates),
                                train_with_compression=c.get("train_with_compression"),
                                resources=_resources(c.get("resources", {}), f"spec: codec {i}"),
                                train=_table(c.get("train", {}), f"spec: codec {i}: train")))
    for what, labels in (("scene", [s.name for s in scenes]), ("codec", [c.label for c in codecs])):
        dup = {x for x in labels if labels.count(x) > 1}
        if dup:
            raise InputError(f"spec: duplicate {what} names {', '.join(sorted(dup))} (give each a label)")
    anchor = data.get("anchor")
    if anchor is not None and anchor not in [c.label for c in codecs]:
        raise InputError(f"spec: anchor {anchor!r} is not a codec label")
    return Spec(name=name, out=str(data.get("out") or f"runs/bench/{_slug(name)}"), scenes=scenes, codecs=codecs,
                train=_table(data.get("train", {}), "spec: train"), anchor=anchor, views=int(data.get("views", 12)),
                resolution=int(data.get("resolution", 128)), lpips_weights=data.get("lpips_weights") or None,
                references=data.get("references"), notes=str(data.get("notes", "")).strip(),
                work=str(data["work"]) if data.get("work") else None, resources=resources,
                report=str(data["report"]) if data.get("report") else None)


def _table(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a table, got {type(raw).__name__}")
    return dict(raw)


def merge_train(*tables: dict) -> dict:
    """Training settings layered spec < scene < codec: a later table's key wins, and a nested
    table (strategy_options, simulation) is merged key by key, so a codec that changes one
    simulation option keeps the rest."""
    out: dict = {}
    for t in tables:
        for k, v in t.items():
            out[k] = merge_train(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _resources(raw, where: str) -> dict:
    """A resources table, checked (unknown keys, negative numbers refused) and kept as given."""
    try:
        Resources.from_dict(raw)
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
    return dict(raw)


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    return spec_from_dict(_read_spec_file(path), default_name=path.stem)


# ---- jobs ------------------------------------------------------------------------------
def _spec_entry(raw, i: int, kind: str, key: str, spec_cls) -> dict:
    """One [[scene]] / [[codec]] table of a spec: a bare string means {key: string}; the key is
    required and unknown keys are refused."""
    entry = {key: raw} if isinstance(raw, str) else raw
    if not isinstance(entry, dict) or key not in entry:
        raise InputError(f"spec: {kind} {i} has no '{key}'")
    bad = set(entry) - {f.name for f in dataclasses.fields(spec_cls)}
    if bad:
        raise InputError(f"spec: {kind} {i}: unknown keys {', '.join(sorted(bad))}")
    return entry


def _hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def train_hash(scene: SceneSpec, train_config: dict) -> str:
    """Names one shared training: the jobs with the same (scene, hash) reuse one trained scene."""
    return _hash({"source": scene.source, "downscale": scene.downscale, "train": train_config})


@dataclass
class Job:
    scene: SceneSpec
    codec: CodecSpec
    rate: object
    train_config: dict  # resolved TrainConfig fields ({} for .ply scenes)
    codec_config: dict  # fixed config + the rate point
    trains: bool  # trains with compression (per rate point)
    resources: dict = field(default_factory=dict)  # Resources fields ([resources] under the codec's)

    @property
    def shared_training(self) -> str | None:
        """The key of the trained scene this job reuses (post-training codec on a dataset), else None."""
        if self.trains or self.scene.is_ply:
            return None
        return f"{self.scene.name}|{train_hash(self.scene, self.train_config)}"

    @property
    def rate_label(self) -> str:
        return "-" if self.codec.rate_param is None else f"{self.codec.rate_param}={self.rate}"

    @property
    def key(self) -> str:
        return f"{self.scene.name}|{self.codec.label}|{self.rate_label}"

    @property
    def config_hash(self) -> str:
        from gscodec.codecs.registry import codec_version

        return _hash({"source": self.scene.source, "downscale": self.scene.downscale, "train": self.train_config,
                      "codec": self.codec.name, "codec_version": codec_version(self.codec.name),
                      "codec_config": self.codec_config, "trains": self.trains})

    @property
    def slug(self) -> str:
        return _slug(f"{self.scene.name}-{self.codec.label}-{self.rate_label}")


def _codec_cls(codec: CodecSpec):
    from gscodec.codecs.registry import codec_class

    try:
        return codec_class(codec.name)
    except InputError:  # an unknown codec fails in its jobs, with the registry's message
        return None


def _codec_trains(codec: CodecSpec) -> bool:
    if codec.train_with_compression is not None:
        return bool(codec.train_with_compression)
    return bool(getattr(_codec_cls(codec), "trains_with_compression", False))


def _is_dynamic(codec: CodecSpec) -> bool:
    """Codecs of Spacetime Gaussians (dynamic-gscodec): their [train] table holds
    SpacetimeTrainConfig fields (iterations per GOF, gof, ...) and their scenes are dynamic."""
    return getattr(_codec_cls(codec), "representation", "gaussians") == "spacetime"


def expand_jobs(spec: Spec) -> list[Job]:
    from gscodec.train.config import TrainConfig, with_simulation
    from gscodec.train.spacetime import SpacetimeTrainConfig

    jobs = []
    for s in spec.scenes:
        for c in spec.codecs:
            cfg_cls = SpacetimeTrainConfig if _is_dynamic(c) else TrainConfig
            raw = merge_train(spec.train, s.train, c.train)
            if s.is_ply:
                train_cfg = {}
            elif isinstance(raw.get("simulation"), dict):  # its start: the trainers' rule (static and dynamic)
                train_cfg = with_simulation(cfg_cls.from_dict({**raw, "simulation": None}), raw["simulation"]).to_dict()
            else:
                train_cfg = cfg_cls.from_dict(raw).to_dict()
            trains = _codec_trains(c)
            for r in c.rates:
                cfg = dict(c.config)
                if c.rate_param is not None:
                    cfg[c.rate_param] = r
                jobs.append(Job(s, c, r, train_cfg, cfg, trains, {**spec.resources, **c.resources}))
    return jobs
