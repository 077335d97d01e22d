"""Expert-trajectory records from local JSONL / JSON / parquet files (or a hub data set when online).

Every loader returns plain records {"question": str, "solution": str, "answer": str | None} so the rest of
the pipeline never sees source-specific field names. A field mapping names the source columns:

    fields = {"question": "problem", "solution": "response", "answer": "answer"}

Bad input raises `DataError` naming the file, the line (JSONL; the record/row index for JSON arrays and
parquet) and the field, because "KeyError: 'solution'" in the middle of a 900K-row load helps nobody: bytes
that are not UTF-8 (file and line), an empty file, a field missing from the whole file. A record that only
lacks an answer some roles need (RL prompts, evaluation problems) is dropped and counted instead
(jaxpt.data.drops), when the caller passes its `Drops`. Records are `Record`s: plain dicts that also know
their place ("file:line"), so whoever drops one later (too long, ...) can say which.
Optional `normalize` rewrites source conventions into the \\boxed{} form the reward and the sampler expect:
    "gsm8k": drop <<calculator>> annotations; the final "#### X" line becomes "The answer is \\boxed{X}."
             and X becomes the answer.
"""
import json
import pathlib
import re
from typing import Dict, List, Optional

from jaxpt.data.drops import Drops

DEFAULT_FIELDS = {"question": "question", "solution": "solution", "answer": "answer"}
FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}


class DataError(ValueError):
    """Malformed expert-trajectory input; the message names file, line/record and field."""


# --------------------------------------------------------------------------------------------- normalizers
_CALC = re.compile(r"<<[^>]*>>")
_GSM_FINAL = re.compile(r"\n?####\s*(.+?)\s*$", re.S)


def _gsm8k(rec: dict) -> dict:
    sol = _CALC.sub("", rec["solution"])
    m = _GSM_FINAL.search(sol)
    if not m:
        raise ValueError("no '#### <answer>' line")
    answer = m.group(1).replace(",", "").strip()
    body = sol[:m.start()].rstrip()
    return {**rec, "solution": f"{body}\nThe answer is \\boxed{{{answer}}}.", "answer": answer}


def last_boxed(text: str) -> Optional[str]:
    """Content of the last \\boxed{...} in text (balanced braces), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i, depth = start + len("\\boxed{"), 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j]
    return None


def _boxed_answer(rec: dict) -> dict:
    if rec.get("answer") not in (None, ""):
        return rec
    ans = last_boxed(rec["solution"])
    if ans is None:
        raise ValueError("no answer field and no \\boxed{} in the solution")
    return {**rec, "answer": ans}


NORMALIZERS = {"none": lambda r: r, "gsm8k": _gsm8k, "boxed": _boxed_answer}
# Field mappings implied by a normalizer (explicit `fields` still win): GSM8K keeps its solution in "answer".
NORMALIZER_FIELDS = {"gsm8k": {"solution": "answer", "answer": None}}


# --------------------------------------------------------------------------------------------- records
class Record(dict):
    """A record {question, solution, answer} that knows where it came from (`record_where`). It compares,
    prints and serialises as the plain dict it is; a copy made with {**r} is a plain dict again."""

    def __init__(self, fields: dict, origin: "_Origin" = None, index: int = 0):
        super().__init__(fields)
        self._origin, self._index = origin, index


def record_where(rec) -> Optional[str]:
    """"file:line" (JSONL), "file (record i)" / "name[split] (row i)" otherwise; None for plain dicts."""
    origin = getattr(rec, "_origin", None)
    return origin.where(rec._index) if origin is not None else None


class _Origin:
    """Where the records of one load came from; JSONL line numbers are computed once, when first asked."""

    def __init__(self, where_src, kind: str, jsonl_path=None):
        self.where_src, self.kind, self.jsonl_path = where_src, kind, jsonl_path
        self._lines: Optional[List[int]] = None

    def where(self, index: int) -> str:
        if self.jsonl_path is not None:
            if self._lines is None:
                self._lines = _jsonl_line_numbers(self.jsonl_path)
            return f"{self.where_src}:{self._lines[index]}"
        return f"{self.where_src} ({self.kind} {index})"


# --------------------------------------------------------------------------------------------- loading
def _jsonl_line_numbers(path) -> List[int]:
    """1-based line numbers of the non-blank lines (datasets skips blank lines)."""
    with open(path, "rb") as f:
        return [i for i, line in enumerate(f, 1) if line.strip()]


def _check_not_empty(path) -> None:
    """Reads up to the first non-blank byte: an empty (or blank) file would fail deep inside datasets."""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                raise DataError(f"{path}: the file is empty (no records)")
            if chunk.strip():
                return


def _check_utf8(path) -> None:
    """JSON is UTF-8: run after a failed load, names the line of the first byte that is not."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at column {col}); "
                        "save the file as UTF-8") from None


def _scan_jsonl(path, mapping: Dict[str, str]) -> None:
    """Line-level diagnosis, run only after datasets failed to parse a file: finds the first bad line."""
    types: Dict[str, tuple] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
                                f"{e.start + 1}); save the file as UTF-8") from None
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            for canon, src in mapping.items():
                if src in obj:
                    t = type(obj[src]).__name__
                    first = types.setdefault(src, (t, lineno))
                    if first[0] != t and obj[src] is not None and {first[0], t} != {"int", "float"}:
                        raise DataError(f"{path}:{lineno}: field {src!r} ({canon}) is {t}, but it was "
                                        f"{first[0]} on line {first[1]}; a column needs one type")


def _load_dataset(source: str, split: str, cache_dir) -> tuple:
    """(datasets.Dataset, path or None, kind) for a local file or a hub name."""
    import datasets

    if datasets.is_progress_bar_enabled():  # "Generating train split" bars on every load clutter the logs
        datasets.disable_progress_bars()
    path = pathlib.Path(source).expanduser()
    if path.is_file():
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .json or .parquet)")
        _check_not_empty(path)
        ds = datasets.load_dataset(fmt, data_files=str(path), split="train",
                                   cache_dir=str(cache_dir) if cache_dir else None)
        return ds, path, ("row" if fmt == "parquet" else "record")
    if path.exists() or source.startswith((".", "/", "~")) or path.suffix.lower() in FORMATS:
        raise DataError(f"{source}: no such data file")
    ds = datasets.load_dataset(source, split=split, cache_dir=str(cache_dir) if cache_dir else None)
    return ds, None, "row"


def load_records(source, fields: Optional[Dict[str, str]] = None, split: str = "train",
                 normalize: str = "none", require_answer: bool = False, limit: Optional[int] = None,
                 cache_dir=None, require_solution: bool = True, drops: Optional[Drops] = None) -> List[Record]:
    """Records {question, solution, answer} from a .jsonl/.json/.parquet file or a hub data set name.

    fields: canonical name -> source field (missing keys default to the canonical name; answer may be
    mapped to None when the source has none). limit: keep the first `limit` records.
    require_answer: the answer column must exist (DataError naming it otherwise); a record whose answer is
    empty is an error too, unless `drops` is given: then it is dropped and counted there ("no answer").
    require_solution=False: problem sets, whose solution column is optional (solution None when absent).
    """
    if normalize not in NORMALIZERS:
        raise ValueError(f"unknown normalize {normalize!r}; known: {sorted(NORMALIZERS)}")
    mapping = dict(DEFAULT_FIELDS)
    mapping.update(NORMALIZER_FIELDS.get(normalize, {}))
    # Entries equal to the defaults (as a config's default `fields` are) do not undo a normalizer's mapping.
    mapping.update({k: v for k, v in (fields or {}).items() if v != DEFAULT_FIELDS.get(k)})
    source = str(source)
    try:
        ds, path, kind = _load_dataset(source, split, cache_dir)
    except DataError:
        raise
    except Exception as e:  # datasets/pyarrow parse errors: find the offending line ourselves
        path = pathlib.Path(source).expanduser()
        if path.is_file() and path.suffix.lower() in (".jsonl", ".json"):
            _check_utf8(path)
        if path.is_file() and path.suffix.lower() == ".json":
            try:
                empty = json.loads(path.read_text()) in ([], {})
            except ValueError:
                empty = False
            if empty:
                raise DataError(f"{path}: no records (the file holds an empty JSON array/object)") from None
        if path.is_file() and path.suffix.lower() == ".jsonl":
            _scan_jsonl(path, {k: v for k, v in mapping.items() if v})
        raise DataError(f"{source}: could not be loaded ({type(e).__name__}: {e})") from e

    columns = set(ds.column_names)
    where_src = path if path is not None else f"{source}[{split}]"
    if not len(ds):
        raise DataError(f"{where_src}: no records")
    # 'file:line' for JSONL (line numbers computed only when a record is reported: big files), else an index.
    origin = _Origin(where_src, kind, path if path is not None and path.suffix.lower() == ".jsonl" else None)
    where = origin.where
    sol_src = mapping.get("solution")
    if not require_solution and sol_src not in columns:
        sol_src = None
    for canon, src in (("question", mapping.get("question")), ("solution", sol_src)):
        if (canon == "question" or require_solution) and (not src or src not in columns):
            raise DataError(f"{where_src}: field {src!r} (mapped to {canon}) is missing; the data has fields "
                            f"{sorted(columns)} -- set the field mapping")
    ans_src = mapping.get("answer")
    if ans_src and ans_src not in columns:
        if require_answer and normalize == "none":
            raise DataError(f"{where_src}: answer field {ans_src!r} is missing; fields are {sorted(columns)} "
                            "-- set the field mapping (fields.answer)")
        ans_src = None
    if require_answer and normalize == "none" and not ans_src:
        raise DataError(f"{where_src}: no answer field is mapped (fields.answer), and this role needs answers")

    n = len(ds) if limit is None else min(limit, len(ds))
    out = []
    norm = NORMALIZERS[normalize]
    wanted = [mapping["question"]] + ([sol_src] if sol_src else []) + ([ans_src] if ans_src else [])
    try:
        cols = ds.select_columns(list(dict.fromkeys(wanted)))[:n]  # dict of column lists
    except UnicodeDecodeError as e:  # arrow keeps the bytes as they came; they are decoded only here
        if path is not None and path.suffix.lower() in (".jsonl", ".json"):
            _check_utf8(path)
        raise DataError(f"{where_src}: a text field is not UTF-8 ({e})") from None
    no_answer = 0
    for i in range(n):
        rec = {}
        for canon in ("question", "solution"):
            if canon == "solution" and not require_solution:
                val = cols[sol_src][i] if sol_src else None
                rec[canon] = val if isinstance(val, str) and val.strip() else None
                continue
            val = cols[mapping[canon]][i]
            if not isinstance(val, str) or not val.strip():
                what = "empty" if isinstance(val, str) or val is None else f"a {type(val).__name__}"
                raise DataError(f"{where(i)}: field {mapping[canon]!r} ({canon}) is "
                                f"{what}; expected a non-empty string")
            rec[canon] = val
        ans = cols[ans_src][i] if ans_src else None
        if isinstance(ans, float) and ans.is_integer():
            ans = int(ans)  # 27.0 -> "27"
        rec["answer"] = None if ans is None else str(ans)
        try:
            rec = norm(rec) if rec["solution"] is not None or normalize == "none" else rec
        except ValueError as e:
            raise DataError(f"{where(i)}: field {mapping['solution']!r} (solution): "
                            f"{normalize} normalization failed: {e}") from None
        if require_answer and not rec.get("answer"):
            if drops is None:
                raise DataError(f"{where(i)}: field {ans_src or 'answer'!r} (answer) is missing or empty")
            no_answer += 1
            drops.add("no answer", where(i))
            continue
        out.append(Record(rec, origin, i))
    if n and no_answer == n:
        raise DataError(f"{where_src}: field {ans_src or 'answer'!r} (answer) is empty in every one of the {n} "
                        "records -- set the field mapping (fields.answer)")
    return out


def split_holdout(records: List[dict], num_val: int, seed: int) -> tuple:
    """(train, val): a deterministic random held-out split; questions in val never appear in train."""
    import numpy as np

    if num_val <= 0:
        return list(records), []
    if num_val >= len(records):
        raise DataError(f"validation split of {num_val} records needs more than {len(records)} records")
    order = np.random.default_rng([seed, 7919]).permutation(len(records))
    val = [records[i] for i in order[:num_val]]
    held = {r["question"] for r in val}
    train = [records[i] for i in sorted(order[num_val:]) if records[i]["question"] not in held]
    return train, val

