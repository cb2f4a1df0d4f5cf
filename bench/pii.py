"""Personal-data detection on planted real text: recall per type, precision against look-alikes, false-positive
rate per look-alike kind, and documents per CPU-second, for curation.labels.pii and, in the same run, datatrove's
PIIFormatter (bench/.dtvenv, built by bench/setup_datatrove.sh) and Presidio's pattern recognizers (a venv with
presidio-analyzer; no spaCy model is loaded: each recognizer is called with nlp_artifacts=None).

    bench/setup_datatrove.sh                      # once: bench/.dtvenv with datatrove 0.10.1
    python3 -m venv /tmp/pii-venv && /tmp/pii-venv/bin/pip install presidio-analyzer==2.2.366   # once
    python bench/pii.py [--presidio-python /tmp/pii-venv/bin/python] [--out docs/pii.json]

A tool whose interpreter is missing is skipped (with a line on stderr).

The set (bench/pii_set.py) is split by source document into a tuning half and a report half; the rules were tuned
on the first, the figures in the JSON's "report" entries are the second."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261206
TYPE_MAP = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "IP_ADDRESS": "ip", "CREDIT_CARD": "credit_card",
            "IBAN_CODE": "iban"}


# --- workers: run inside another venv, import only their tool ------------------------------------------------------
def _datatrove_detector():
    from datatrove.pipeline.formatters import PIIFormatter

    f = PIIFormatter()

    def detect(text):
        spans = [("email", m.start(), m.end()) for m in f.emails_replacer.regex.finditer(text)]
        spans += [("ip", m.start(), m.end()) for m in f.ip_replacer.regex.finditer(text)
                  if f.ip_replacer.validator(m.group(0))]
        return spans
    return detect


def _presidio_detector():
    import logging

    logging.disable(logging.CRITICAL)  # tldextract cannot fetch the suffix list offline and falls back, noisily
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    recs = [EmailRecognizer(), IpRecognizer(), CreditCardRecognizer(), IbanRecognizer(),
            PhoneRecognizer(supported_regions=("US", "GB", "DE", "FR"))]

    def detect(text):
        out = []
        for rec in recs:
            for res in rec.analyze(text, entities=rec.supported_entities, nlp_artifacts=None) or []:
                out.append((TYPE_MAP.get(res.entity_type, res.entity_type), res.start, res.end))
        return out
    return detect


def _ours_detector(dolma_window: int = 0):
    sys.path.insert(0, str(HERE.parent))
    from curation.labels.pii import PiiDetector

    det = PiiDetector(dolma_window=dolma_window)
    return lambda text: [(s.type, s.start, s.end) for s in det.find(text)]


def faker_values(path_out: str) -> None:
    """Values from Faker (a generator written without these rules): per type, locales en_US, en_GB, de_DE, fr_FR."""
    import faker

    pool = {"email": [], "phone": [], "ip": [], "credit_card": [], "iban": []}
    for loc in ("en_US", "en_GB", "de_DE", "fr_FR"):
        f = faker.Faker(loc)
        f.seed_instance(SEED)
        for _ in range(100):
            pool["email"].append(f.email())
            pool["phone"].append(f.phone_number())
            pool["iban"].append(f.iban())
            pool["ip"] += [f.ipv4_public(), f.ipv6()]
            pool["credit_card"].append(f.credit_card_number())
    Path(path_out).write_text(json.dumps({"faker": faker.VERSION, "pool": pool}))


def run_worker(tool: str, path_in: str, path_out: str) -> None:
    if tool == "faker":
        return faker_values(path_out)
    detect = {"datatrove": _datatrove_detector, "presidio": _presidio_detector}[tool]()
    with open(path_in, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    timed = "-faker-" not in Path(path_in).name
    Path(path_out).write_text(json.dumps(run_detector(detect, texts, min_cpu=2.0 if timed else 0)))


def run_detector(detect, texts, min_cpu=2.0):
    """Spans for ``texts``, and documents per CPU-second over them (repeated until ``min_cpu`` s; 0: not timed)."""
    spans = [detect(t) for t in texts]
    docs, t0 = 0, time.process_time()
    while time.process_time() - t0 < min_cpu:
        for t in texts:
            detect(t)
        docs += len(texts)
    return {"spans": spans, "docs_per_cpu_s": docs / max(1e-9, time.process_time() - t0)}


# --- scoring ---------------------------------------------------------------------------------------------------------
def score(labels_per_doc, spans_per_doc, doc_ids, half):
    from pii_set import LOOKALIKES, TYPES, split_half

    found, exact, total = Counter(), Counter(), Counter()
    flagged, negs, other = Counter(), Counter(), Counter()
    for labels, spans, doc_id in zip(labels_per_doc, spans_per_doc, doc_ids):
        if half and split_half(doc_id) != half:
            continue
        used = set()
        for item in labels:
            s0, e0 = item["start"], item["end"]
            hits = [i for i, (_, s, e) in enumerate(spans) if s < e0 and e > s0]
            used.update(hits)
            if item["role"] == "neg":
                negs[item["kind"]] += 1
                flagged[item["kind"]] += bool(hits)
                continue
            total[item["kind"]] += 1
            good = [i for i in hits if spans[i][0] == item["kind"]
                    and min(e0, spans[i][2]) - max(s0, spans[i][1]) >= 0.5 * (e0 - s0)]
            found[item["kind"]] += bool(good)
            exact[item["kind"]] += any(spans[i][1] == s0 and spans[i][2] == e0 for i in good)
        for i, (kind, _, _) in enumerate(spans):
            if i not in used:
                other[kind] += 1
    tp, fp = sum(found.values()), sum(flagged.values())
    return {
        "recall": round(tp / max(1, sum(total.values())), 4),
        "recall_per_type": {t: round(found[t] / max(1, total[t]), 4) for t in TYPES},
        "exact_span_per_type": {t: round(exact[t] / max(1, total[t]), 4) for t in TYPES},
        "planted_per_type": {t: total[t] for t in TYPES},
        "precision_vs_lookalikes": round(tp / max(1, tp + fp), 4),
        "fp_rate": round(fp / max(1, sum(negs.values())), 4),
        "fp_rate_per_lookalike": {k: round(flagged[k] / max(1, negs[k]), 4) for k in LOOKALIKES},
        "lookalikes_planted": sum(negs.values()),
        "other_detections_in_real_text": dict(other),
    }


def external(name: str, python: str, tmp: Path, texts, label: str = "values"):
    """Run a worker in another venv: detection results for ``texts`` (or Faker's values when texts is None)."""
    if not Path(python).exists():
        print(f"{name}: {python} not found, skipped", file=sys.stderr)
        return None
    src, out = tmp / f"{name}-{label}-in.jsonl", tmp / f"{name}-{label}-out.json"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts or []), encoding="utf-8")
    subprocess.run([python, __file__, "--worker", name, str(src), str(out)], check=True)
    return json.loads(out.read_text())


def build_faker_set(docs, pool):
    import ipaddress
    import random

    from pii_set import _public, plant

    pool = dict(pool)
    pool["ip"] = [v for v in pool["ip"] if _public(ipaddress.ip_address(v))
                  and (":" not in v or ipaddress.ip_address(v) in ipaddress.ip_network("2000::/3"))]
    pool["credit_card"] = [v for v in pool["credit_card"] if 13 <= len(v) <= 19]  # Faker's Maestro has 12
    r = random.Random(SEED + 1)
    texts, labels = [], []
    for d in docs:
        t, lab = plant(r, d["text"], max(1, min(3, len(d["text"]) // 800)), 0, pool)
        texts.append(t)
        labels.append(lab)
    return texts, labels


def build_set():
    import random

    from pii_set import load_docs, plant

    r = random.Random(SEED)
    docs = load_docs()
    texts, labels = [], []
    for d in docs:
        k = max(1, min(3, len(d["text"]) // 800))
        t, lab = plant(r, d["text"], k, k)
        texts.append(t)
        labels.append(lab)
    return docs, texts, labels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--datatrove-python", default=str(HERE / ".dtvenv" / "bin" / "python"))
    ap.add_argument("--presidio-python", default="/tmp/pii-venv/bin/python")
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "pii.json"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.worker:
        run_worker(*args.worker)
        return 0
    docs, texts, labels = build_set()
    ids = [d["id"] for d in docs]
    web = [d["text"] for d in docs if d["id"].split(":")[0].endswith((".gz", "dclm-human-quality-labels.jsonl"))]
    tmp = Path(tempfile.mkdtemp(prefix="pii-bench-"))
    faker = external("faker", args.presidio_python, tmp, None)
    fk_texts, fk_labels = build_faker_set(docs, faker["pool"]) if faker else ([], [])
    sets = {"planted": texts, "real": web, "faker": fk_texts}
    results = {}
    for name in ("ours", "ours+dolma_window100"):
        det = _ours_detector(100 if "dolma" in name else 0)
        results[name] = {k: run_detector(det, v, min_cpu=2.0 if k != "faker" else 0) for k, v in sets.items()}
    for name, python in (("datatrove", args.datatrove_python), ("presidio", args.presidio_python)):
        outs = {k: external(name, python, tmp, v, k) for k, v in sets.items()}
        if all(outs.values()):
            results[name] = outs
    report = {"date": "2026-12-06", "command": "python bench/pii.py", "seed": SEED, "documents": len(docs),
              "speed_documents": len(web), "note": "2 shared CPU cores (up to 9 sessions); speeds are CPU-time based",
              "tools": {}}
    if faker:
        report["faker_set"] = {"faker": faker["faker"], "locales": ["en_US", "en_GB", "de_DE", "fr_FR"],
                               "note": "values from Faker planted bare (no keyword); all documents; recall only"}
    for name, res in results.items():
        real_counts = Counter(k for spans in res["real"]["spans"] for k, _, _ in spans)
        report["tools"][name] = {
            "report": score(labels, res["planted"]["spans"], ids, "report"),
            "tune": score(labels, res["planted"]["spans"], ids, "tune"),
            "docs_per_cpu_s_planted": round(res["planted"]["docs_per_cpu_s"]),
            "docs_per_cpu_s_real_web_text": round(res["real"]["docs_per_cpu_s"]),
            "spans_in_unplanted_real_text": dict(real_counts),
        }
        if faker:
            fk = score(fk_labels, res["faker"]["spans"], ids, None)
            report["tools"][name]["faker_set"] = {k: fk[k] for k in ("recall", "recall_per_type", "planted_per_type")}
        rep = report["tools"][name]["report"]
        print(f"{name:22s} recall {rep['recall']:.3f} {rep['recall_per_type']} precision "
              f"{rep['precision_vs_lookalikes']:.3f} fp_rate {rep['fp_rate']:.3f} "
              f"docs/cpu-s {report['tools'][name]['docs_per_cpu_s_real_web_text']}")
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
