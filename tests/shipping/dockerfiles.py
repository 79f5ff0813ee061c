"""A small reader for our two Dockerfiles: stages, instructions and their arguments.

Just enough of the Dockerfile grammar for tests/shipping to inspect the images' structure and to
replay a builder stage outside Docker: line continuations, comments, `FROM image AS name`, and the
exec (JSON) and shell forms of instructions. It is not a general parser and says so when it meets
something it does not understand.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    """One instruction: keyword upper-cased, the raw argument text, and its line number."""

    keyword: str
    text: str
    line: int

    def words(self) -> list[str]:
        """The arguments as words: the JSON array of the exec form, else shell-style splitting."""
        stripped = self.text.strip()
        if stripped.startswith("["):
            parsed = json.loads(stripped)
            assert isinstance(parsed, list)
            return [str(word) for word in parsed]
        return shlex.split(stripped)

    def flags_and_args(self) -> tuple[dict[str, str], list[str]]:
        """Leading `--flag=value` options (as on COPY and RUN) split from the remaining words."""
        flags: dict[str, str] = {}
        words = self.words() if self.keyword != "RUN" else shlex.split(self.text)
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words


@dataclass
class Stage:
    """A build stage: the image it starts from, its name, and its instructions after FROM."""

    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]


@dataclass
class Dockerfile:
    """A parsed Dockerfile: global ARGs (before the first FROM) and the stages in order."""

    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        """The stage `docker build` produces without `--target`."""
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"{self.path.name} has no stage named {name!r}")

    def chain(self, name: str) -> list[Stage]:
        """The stage and the earlier stages it is built FROM, outermost first."""
        stage = self.stage(name)
        names = {candidate.name for candidate in self.stages}
        if stage.base in names:
            return [*self.chain(stage.base), stage]
        return [stage]

    def resolve(self, text: str) -> str:
        """Substitute the global ARG defaults into `text` (`${NAME}` and `$NAME`)."""
        for name, value in self.global_args.items():
            text = text.replace("${" + name + "}", value).replace("$" + name, value)
        return text


def logical_lines(source: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments and blank lines; keep the first line number."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(source.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped by Docker too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        raise ValueError(f"line {start}: instruction ends in a line continuation")
    return lines


def parse(path: Path) -> Dockerfile:
    """Parse `path`; raise ValueError naming the line for anything outside the supported grammar."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            flags = [word for word in words if word.startswith("--")]
            words = [word for word in words if not word.startswith("--")]
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(Stage(base=words[0], name=words[2], line=number))
            elif len(words) == 1:
                stages.append(Stage(base=words[0], name=None, line=number))
            else:
                raise ValueError(f"{path.name}:{number}: cannot read FROM {rest!r} (flags {flags})")
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"{path.name}:{number}: only ARG may precede the first FROM, got {keyword}")
            name, _, default = rest.strip().partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append(Instruction(keyword=keyword, text=rest, line=number))
    if not stages:
        raise ValueError(f"{path.name}: no FROM instruction")
    return Dockerfile(path=path, global_args=global_args, stages=stages)


def worker_dockerfile() -> Dockerfile:
    return parse(REPO_ROOT / "Dockerfile.worker")


def operator_dockerfile() -> Dockerfile:
    return parse(REPO_ROOT / "Dockerfile.operator")
