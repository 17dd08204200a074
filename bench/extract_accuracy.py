"""Field accuracy of transcript understanding on labelled JSON Lines.

Usage: .venv/bin/python bench/extract_accuracy.py FILE.jsonl [FILE.jsonl ...] [--errors]

Each line: {"text": ..., "category", "province_code", "district_code", "phone", "citizen_id",
"urgent"} (the format of /work/shared/data/complaints-dev.jsonl). Prints, per file and in total,
the share of lines where each field is exactly right (null = null counts as right), urgent
precision and recall, and the mean and worst extraction time. --errors lists every wrong field.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.understanding import Understanding

FIELDS = ("category", "province_code", "district_code", "phone", "citizen_id", "urgent")


@dataclass
class Tally:
    lines: int = 0
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.lines += other.lines
        for name in FIELDS:
            self.right[name] += other.right[name]
        self.true_positive += other.true_positive
        self.false_positive += other.false_positive
        self.false_negative += other.false_negative
        self.seconds.extend(other.seconds)

    def accuracy(self, name: str) -> float:
        return self.right[name] / self.lines if self.lines else 0.0

    def urgent_precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    def urgent_recall(self) -> float:
        actual = self.true_positive + self.false_negative
        return self.true_positive / actual if actual else 1.0


def score_file(understanding: Understanding, path: Path) -> Tally:
    tally = Tally()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        started = time.perf_counter()
        got = understanding.extract(row["text"]).to_json_dict()
        tally.seconds.append(time.perf_counter() - started)
        tally.lines += 1
        for name in FIELDS:
            if got[name] == row.get(name):
                tally.right[name] += 1
            else:
                label = row.get("id", f"line {number}")
                tally.errors.append(f"{label} {name}: want {row.get(name)!r} got {got[name]!r}")
        if row["urgent"] and got["urgent"]:
            tally.true_positive += 1
        elif got["urgent"]:
            tally.false_positive += 1
        elif row["urgent"]:
            tally.false_negative += 1
    return tally


def report(title: str, tally: Tally) -> str:
    rows = [f"{title}: {tally.lines} transcripts"]
    rows += [f"  {name:<14} {tally.accuracy(name):7.1%}" for name in FIELDS]
    rows.append(
        f"  urgent precision {tally.urgent_precision():.1%}  recall {tally.urgent_recall():.1%}"
        f"  (tp {tally.true_positive}, fp {tally.false_positive}, fn {tally.false_negative})"
    )
    if tally.seconds:
        mean_ms = 1000 * sum(tally.seconds) / len(tally.seconds)
        rows.append(
            f"  time per transcript: mean {mean_ms:.1f} ms, max {1000 * max(tally.seconds):.1f} ms"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--errors", action="store_true", help="list every wrong field")
    parser.add_argument("--config", type=Path, default=None, help="understanding.toml to use")
    args = parser.parse_args(argv)
    understanding = Understanding.from_file(args.config)
    total = Tally()
    for path in args.files:
        tally = score_file(understanding, path)
        print(report(str(path), tally))
        if args.errors:
            print("\n".join(f"    {error}" for error in tally.errors))
        total.add(tally)
    if len(args.files) > 1:
        print(report("all files", total))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
