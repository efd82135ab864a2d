"""One ``build.py watch`` session of a scenario: its builds, their lines, its memory."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib import knitr_rules
from benchlib.homework import (
    BUILD_PY,
    PY,
    QUIET_AFTER_BUILD,
    VALUE_EDIT,
    VARIANTS,
    WARM_RUN,
    WATCH_TIMEOUT,
    CompilePath,
    Row,
    TexState,
    Timeline,
    compile_path,
    mtime_ns,
    run,
)
from benchlib.measure import (
    REPO,
    BenchError,
    median,
    tree_memory,
)
from hwbuild.project.layout import WHOLE

if TYPE_CHECKING:
    from benchlib.scenarios import Bench


class WatchSession:
    """``build.py -v watch`` on the scratch project, its lines timestamped as they arrive.

    ``-v`` adds the plain progress lines (``running 1 experiment(s)``, ``problem 2: done``,
    ``compiling homework``), which time the stages of each build from outside.
    """

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> WatchSession:
        bench = self.bench
        self.proc = subprocess.Popen(
            [PY, str(BUILD_PY), "--project", str(bench.project), "-v", "watch"], cwd=REPO,
            env=bench.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

        def reader() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.put((time.time(), line.rstrip("\n")))

        threading.Thread(target=reader, daemon=True).start()
        try:
            self.next_build()  # the build at start: nothing to do
        except BaseException:
            self.__exit__()
            raise
        time.sleep(QUIET_AFTER_BUILD)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def next_build(self) -> tuple[float, str, list[tuple[float, str]]]:
        """The next build's line (``HH:MM:SS built ...``), when it came, and the lines before."""
        events: list[tuple[float, str]] = []
        deadline = time.monotonic() + WATCH_TIMEOUT
        while True:
            try:
                when, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise BenchError(f"`build.py watch` printed no build within {WATCH_TIMEOUT} s"
                                 ) from None
            if knitr_rules.WATCH_LINE.match(line):
                return when, line, events
            events.append((when, line))

    def quiet_for(self, seconds: float) -> list[str]:
        """What watch printed in the next ``seconds`` (nothing, unless a second build ran)."""
        time.sleep(seconds)
        return self.drain()

    def drain(self) -> list[str]:
        found = []
        while not self.lines.empty():
            found.append(self.lines.get()[1])
        return found

    def record_memory(self, row: Row) -> None:
        assert self.proc is not None
        count, peak, held = tree_memory(self.proc.pid)
        row.hwbuild_peak_kib.append(peak)
        processes = f"{count} processes hold" if count != 1 else "1 process holds"
        row.notes.append(f"after the last build, the watch session's {processes} "
                         f"{held / 1024:.0f} MB (sum of PSS)")


class WatchScenarios:
    """The scenarios that edit a file under ``build.py watch`` (a part of :class:`Bench`)."""

    def watch_edit(self, reps: int) -> Row:
        """The template edit again, under a running ``build.py watch``: save to PDF."""
        self.log("template edit under watch")
        template = self.project / "templates" / f"problem{self.template_id}.tex.j2"
        original, base = self._edited(template)
        row = Row("watch", f"template edit (`problem{self.template_id}.tex.j2`) under "
                  "`build.py watch`, save to PDF",
                  baseline_is="bare `latexmk` on the same edited `.tex`", peak_note=" *")
        variants = [base + f"% hwbuild bench: watched edit {v}\n" for v in ("WWW", *VARIANTS)]
        self.watched(row, "watch", template, variants, reps, ran=0)
        template.write_text(original, encoding="utf-8")
        self.hwbuild()
        return row

    def watch_solution(self, reps: int) -> Row:
        """A value edit of the solution under ``watch``: the experiment reruns on a warm worker
        and the document compiles, against bare latexmk of the whole document."""
        self.log("solution edit under watch")
        pid = self.solution_id
        solution = self.project / "solutions" / f"problem{pid}.py"
        original, base = self._edited(solution)
        row = Row("watch-solution", f"solution value edit (`problem{pid}.py`) under "
                  "`build.py watch`, save to PDF",
                  baseline_is="bare `latexmk` of the whole document (same sources)",
                  peak_note=" *")
        # Of different lengths: an embedded results file keeps its mtime (the epoch), and
        # bare latexmk looks at the size before the contents.
        variants = [base + VALUE_EDIT.format(variant=v) for v in ("WWW", *VARIANTS)]
        try:
            self.watched(row, "watch, solution", solution, variants, reps, ran=1, problem=pid)
        finally:
            solution.write_text(original, encoding="utf-8")
        self.hwbuild()
        self.warm_reference(pid)
        return row

    def warm_reference(self, pid: str) -> None:
        """What the experiment costs a worker that has run it once already."""
        try:
            result = run([PY, "-c", WARM_RUN, str(self.baseline), pid, str(self.seed(pid))],
                         cwd=self.baseline, env=self.env, what=f"problem {pid} three times")
            times = [float(t) for t in result.output.split()[-3:]]
        except (BenchError, ValueError) as error:
            self.log(f"no warm reference for problem {pid}: {error}")
            return
        self.references[f"problem {pid}'s experiment (`run_task`) in a fresh process, nothing "
                        "imported"] = [times[0]]
        self.references["the same run again in that process (a fully warm worker: median of "
                        "the 2nd and 3rd)"] = [median(times[1:])]

    def watched(self, row: Row, scenario: str, path: Path, variants: list[str], reps: int, *,
                ran: int, problem: str | None = None) -> None:
        """One watch session: an untimed save of ``variants[0]``, then ``reps`` timed saves
        of the others in turn, each against bare latexmk on the same sources."""
        self.sync_baseline(sources_only=False)
        with self.scenario(row), WatchSession(self) as session:
            first, _ = self.watched_save(session, Row("first", ""), scenario,
                                         path, variants[0], ran=ran, problem=problem)
            why = "; a session's first experiment starts the fork server" if ran else ""
            row.notes.append(f"first save after watch starts (not timed{why}): {first:.3f} s")
            self.sync_baseline(sources_only=True)
            self.bare_latexmk(self.base_workdir, self.baseline)  # the baseline in step
            for rep in range(reps):
                seconds, compiled = self.watched_save(
                    session, row, scenario, path, variants[1 + rep % (len(variants) - 1)],
                    ran=ran, problem=problem)
                row.hwbuild.append(seconds)
                self.check_compile_path(scenario, compiled)
                self.sync_baseline(sources_only=True)
                latex = self.bare_latexmk_checked(scenario)
                row.baseline.append(latex.seconds)
                row.baseline_peak_kib.append(latex.peak_kib)
            session.record_memory(row)

    def watched_save(self, session: WatchSession, row: Row, scenario: str, path: Path,
                     text: str, *, ran: int, problem: str | None = None
                     ) -> tuple[float, CompilePath]:
        """Write ``text`` into ``path``, wait for watch's line, check the build; the seconds
        from the save to the line, and how TeX ran."""
        pdf_before = mtime_ns(self.pdf)
        tex_before = TexState.of(self.workdir)
        session.drain()
        started = time.time()
        path.write_text(text, encoding="utf-8")
        finished, line, events = session.next_build()
        compiled = compile_path(self.workdir, tex_before)
        extra = session.quiet_for(QUIET_AFTER_BUILD)
        counts = re.search(r"\(ran (\d+); cached (\d+)\)", line)
        self.check(scenario, "a save rebuilds the PDF, once",
                   " built " in f" {line}" and not extra and mtime_ns(self.pdf) != pdf_before,
                   "; ".join([line, *extra]))
        self.check(scenario, f"the build runs {ran} experiment(s)",
                   counts is not None and int(counts.group(1)) == ran, line)
        if problem is not None:
            running = [text for _, text in events if text.startswith("running ")]
            self.check(scenario, f"the experiment that reruns is problem {problem}'s",
                       bool(running) and f"({problem})" in running[0], "; ".join(running))
        timeline = Timeline([("save", started)])
        labels = {"running ": "→ experiments start (file event, debounce, plan)",
                  "  problem ": "→ experiment done (fork, import, run)",
                  "compiling ": "→ compile starts (results recorded, render)"}
        for when, text in events:
            for prefix, label in labels.items():
                if text.startswith(prefix):
                    timeline.add(label, when)
        if not any(text.startswith("running ") for _, text in events):
            timeline.points = [(label.replace("(results recorded, render)",
                                              "(file event, debounce, plan, render)"), when)
                               for label, when in timeline.points]
        if compiled.ran:
            build = self.project / "build"
            for label, file in (("→ TeX done (log written)", self.workdir / f"{WHOLE}.log"),
                                ("→ PDF published (reads recorded, PDF copied)",
                                 build / f"{WHOLE}.pdf"),
                                ("→ SyncTeX rewritten", build / f"{WHOLE}.synctex.gz")):
                stamp = mtime_ns(file)
                timeline.add(label, stamp / 1e9 if stamp else None)
            row.paths.append(compiled)
        timeline.add("→ watch's line (stamps, manifest, the line)", finished)
        for label, seconds in timeline.intervals():
            row.add_stage(label, seconds)
        printed = re.search(r" in ([0-9.]+)s\b", line)
        if printed:
            row.add_stage("the build as watch prints it (0.1 s steps)", float(printed.group(1)))
        return finished - started, compiled
