"""Stage 5, publish: move each new PDF and its SyncTeX file into ``build/``, atomically, then the
stamps and the manifest.

Only this stage replaces what a reader of ``build/`` sees, and only after everything before it
succeeded: a failed or interrupted build leaves the previous PDFs as they were. The SyncTeX file
is rewritten on the way to point at the templates, so that a click in the PDF opens the template
line that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwbuild.fsutil import atomic_copy, atomic_write_text, dump_json, sha256_file
from hwbuild.stages.compile import CompiledTarget
from hwbuild.stages.manifest import write_manifest
from hwbuild.stages.plan import Plan
from hwbuild.stages.report import TargetReport, TargetStatus
from hwbuild.stages.run import ExperimentResults
from hwbuild.stamp import FileHashes, Stamp


def _synctex(plan: Plan, item: CompiledTarget, destination: Path) -> None:
    from hwbuild.tex.synctex import rewrite_synctex

    assert item.result is not None and item.result.synctex is not None
    root = plan.project.root
    maps = {name: rendered.origins.resolved(root)
            for name, rendered in item.composed.files.items() if rendered.origins}
    rewrite_synctex(item.result.synctex, destination, maps)


def publish_target(plan: Plan, item: CompiledTarget) -> TargetReport:
    layout = plan.layout
    name = item.composed.plan.target.name
    pdf = layout.pdf(name)
    if item.result is None:
        return TargetReport(name=name, pdf=pdf, status=TargetStatus.UP_TO_DATE)
    assert item.stamp is not None
    atomic_copy(item.result.pdf, pdf)
    outputs = {layout.relative(pdf): sha256_file(pdf)}
    synctex = layout.synctex(name)
    if item.result.synctex is not None:
        _synctex(plan, item, synctex)
        outputs[layout.relative(synctex)] = sha256_file(synctex)
    else:
        synctex.unlink(missing_ok=True)
    stamp = Stamp(item.stamp.settings, item.stamp.inputs, outputs)
    atomic_write_text(layout.stamp(name), dump_json(stamp.to_json()))
    return TargetReport(name=name, pdf=pdf, status=TargetStatus.BUILT,
                        reasons=item.composed.reasons, rendered=item.composed.rerendered,
                        latex_seconds=item.result.seconds)


def changed_during_build(plan: Plan, experiments: ExperimentResults, typeset: list[CompiledTarget]
                         ) -> list[str]:
    """Every input that moved between the moment a step read it and now."""
    changed = list(experiments.changed)
    fresh = FileHashes(plan.project.root)
    for item in typeset:
        changed.extend(item.changed)
        for key, digest in item.composed.templates.items():
            if fresh(key) != digest:
                changed.append(key)
    return sorted(set(changed))


@dataclass
class Published:
    """What this stage did: each target's report, and the inputs that moved during the build."""

    targets: list[TargetReport]
    changed: list[str]


def publish(plan: Plan, experiments: ExperimentResults, typeset: list[CompiledTarget]) -> Published:
    """Publish every compiled target, then the manifest (stage 5)."""
    targets = [publish_target(plan, item) for item in typeset]
    # A build that ran and compiled nothing leaves the manifest as the last build wrote it:
    # it describes the artifacts, which are the same.
    if experiments.ran or any(t.status == TargetStatus.BUILT for t in targets) \
            or not plan.layout.manifest.exists():
        write_manifest(plan.project, [t.name for t in targets])
    return Published(targets, changed_during_build(plan, experiments, typeset))
