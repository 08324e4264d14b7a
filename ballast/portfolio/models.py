"""Model portfolios: ``models/<model_id>.yaml``, shared targets, bands and security weights.

A model is what Tamarac and Orion are built around: one file states the asset classes, their
targets and bands, and optionally the securities that make up each class with their weights;
every IPS that says ``model: <model_id>`` (instead of ``asset_classes:``) takes exactly those
classes. The resolved ``Policy`` is the one an IPS writing the same classes inline would give
(with ``Policy.model`` naming the model and its version), so drift, bands and both trade
engines work unchanged. A model's version is the SHA-256 of its file's bytes: editing the file
re-targets every portfolio on it at the next review, and the run records which version it used.

Model files are read the way ``ips/`` files are (``ballast.portfolio.policy_set``): hidden names
are not there, only regular files are read (a link, folder or FIFO is named, never followed or
waited on), a file name must be a model id (the portfolio id rules) equal to the file's ``id``,
and every refusal is one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ballast import workspace
from ballast.errors import PolicyError, printable
from ballast.kinds import portfolio_id_problem
from ballast.portfolio.policy import (
    ONE,
    AssetClassPolicy,
    BandField,
    ModelRef,
    PortfolioId,
    Text,
    _describe,
    _parse_yaml,
    content_hash,
)

SUFFIXES = (".yaml", ".yml")
FOLDER = "models"


class ModelPortfolio(BaseModel):
    """One model file: its classes as an IPS's ``asset_classes`` would state them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: PortfolioId
    name: Text
    default_band: BandField | None = None
    asset_classes: dict[Text, AssetClassPolicy]

    @model_validator(mode="after")
    def _checks(self) -> ModelPortfolio:
        total = sum((c.target for c in self.asset_classes.values()), Decimal(0))
        if total != ONE:
            raise ValueError(f"asset class targets add up to {total * 100:f}%, not 100%")
        return self


@dataclass(frozen=True)
class ModelFile:
    """One model file as read: its bytes' SHA-256 and text, and the model or why it is refused."""

    id: str
    file: str  # the file name in models/
    sha256: str
    text: str
    model: ModelPortfolio | None
    error: str | None = None

    def ref(self) -> ModelRef:
        assert self.model is not None
        return ModelRef(id=self.id, name=self.model.name, sha256=self.sha256)


def parse(file: str, text: str) -> ModelFile:
    """A model file's text checked: the model, or the one-line reason it cannot be used."""
    stem = Path(file).stem
    shown = f"{FOLDER}/{printable(file)}"
    sha = content_hash(text)
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        return ModelFile(stem, file, sha, text, None, f"{shown}{where}: not valid YAML")
    if not isinstance(raw, dict):
        return ModelFile(stem, file, sha, text, None, f"{shown}: a model must be a YAML mapping")
    try:
        model = ModelPortfolio.model_validate(raw)
    except ValidationError as exc:
        return ModelFile(stem, file, sha, text, None, printable(f"{shown}: {_describe(exc)}"))
    if model.id != stem:
        error = printable(f"{shown}: field id: {model.id!r} differs from the file name")
        return ModelFile(stem, file, sha, text, None, error)
    return ModelFile(stem, file, sha, text, model)


@dataclass(frozen=True)
class ModelCatalog:
    """The model files an IPS may name: model id → file as read, and the entries that could
    not be read at all (model id → reason)."""

    files: dict[str, ModelFile] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever any model file's bytes (or readability) change (computed once: a
        catalog is never changed)."""
        h = hashlib.sha256()
        for mid in sorted(self.files):
            h.update(f"{mid}\0{self.files[mid].file}\0{self.files[mid].sha256}\n".encode())
        for mid in sorted(self.unreadable):
            h.update(f"{mid}\0!{self.unreadable[mid]}\n".encode("utf-8", "surrogateescape"))
        return h.hexdigest()

    @classmethod
    def from_texts(cls, texts: dict[str, str]) -> ModelCatalog:
        """A catalog of these files (file name → text), e.g. a past run's archived versions."""
        return cls({Path(name).stem: parse(name, text) for name, text in sorted(texts.items())})

    @classmethod
    def beside(cls, ips_path: Path) -> ModelCatalog:
        """The ``models/`` folder beside the folder of ``ips_path`` (``ips/x.yaml``)."""
        return read_folder(ips_path.parent.parent / FOLDER)

    def referenced(self, model_id: Any) -> ModelFile | None:
        """The readable file of a model id an IPS names, if there is one."""
        return self.files.get(model_id) if isinstance(model_id, str) else None

    def apply(self, raw: dict[Any, Any], path: Path) -> dict[Any, Any]:
        """The IPS ``raw`` with ``model: <id>`` replaced by the model's classes and bands (and
        ``Policy.model`` set); ``PolicyError`` naming the IPS file and field otherwise."""
        ref = raw["model"]

        def refuse(where: str, why: str) -> PolicyError:
            return PolicyError(printable(f"{path}: field {where}: {why}"))

        if not isinstance(ref, str) or portfolio_id_problem(ref) is not None:
            raise refuse("model", f"{str(ref)[:40]!r} is not a model id")
        if "asset_classes" in raw:
            raise refuse(
                "model", "an IPS takes its asset classes from a model or lists them, not both"
            )
        if "default_band" in raw:
            raise refuse("default_band", f"the bands come from model {ref!r}: remove it here")
        if ref in self.unreadable:
            raise refuse("model", f"model {ref!r} cannot be used: {self.unreadable[ref]}")
        found = self.files.get(ref)
        if found is None:
            raise refuse("model", f"no model {ref!r} in {FOLDER}/ (write {FOLDER}/{ref}.yaml)")
        if found.model is None:
            raise refuse("model", f"model {ref!r} cannot be used: {found.error}")
        out = {k: v for k, v in raw.items() if k != "model"}
        out["asset_classes"] = dict(found.model.asset_classes)
        if found.model.default_band is not None:
            out["default_band"] = found.model.default_band
        out["model"] = found.ref()
        return out


def read_folder(folder: Path) -> ModelCatalog:
    """Every model file in ``folder`` (none when it does not exist); never raises for a file."""
    if not folder.is_dir() or folder.is_symlink():
        return ModelCatalog()
    entries = workspace.entries(folder)  # hidden names are left out
    others = dict(entries.others)
    files: dict[str, ModelFile] = {}
    unreadable: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in sorted([*entries.files, *others]):
        if path.suffix not in SUFFIXES or portfolio_id_problem(path.stem) is not None:
            continue  # an IPS can only name a model id
        mid, shown = path.stem, f"{FOLDER}/{printable(path.name)}"
        if mid in seen:
            unreadable[mid] = f"{FOLDER}/{seen[mid]} and {shown} both define model {mid!r}"
            files.pop(mid, None)
            continue
        seen[mid] = printable(path.name)
        if path in others:
            unreadable[mid] = f"{shown}: {others[path]}, not a regular file: not read"
            continue
        try:
            text = workspace.read_regular(path)
        except workspace.NotRegular as exc:
            unreadable[mid] = f"{shown}: {exc}, not a regular file: not read"
        except UnicodeDecodeError as exc:
            unreadable[mid] = f"{shown}: not UTF-8 text (byte {exc.start})"
        except OSError as exc:
            unreadable[mid] = f"{shown}: cannot be read ({exc.strerror})"
        else:
            files[mid] = parse(path.name, text)
    return ModelCatalog(files, unreadable)
