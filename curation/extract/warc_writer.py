"""Writing WARC/1.1 records (one gzip member each, as Common Crawl does): the sample builder and tests use it."""

from __future__ import annotations

import gzip
import hashlib
import io
import uuid
import zlib


def http_response(body: bytes, content_type: str | None = "text/html", status: str = "200 OK",
                  extra_headers: dict | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    for k, v in (extra_headers or {}).items():
        lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def record(warc_type: str, block: bytes, *, url: str | None = None, date: str = "2024-01-01T00:00:00Z",
           key: str | None = None, content_type: str = "application/http;msgtype=response") -> bytes:
    """One WARC record; ``key`` makes the WARC-Record-ID deterministic."""
    rid = uuid.uuid5(uuid.NAMESPACE_URL, key) if key else uuid.uuid4()
    head = ["WARC/1.1", f"WARC-Type: {warc_type}", f"WARC-Record-ID: <urn:uuid:{rid}>", f"WARC-Date: {date}"]
    if url:
        head.append(f"WARC-Target-URI: {url}")
    head += [f"WARC-Block-Digest: sha256:{hashlib.sha256(block).hexdigest()}", f"Content-Type: {content_type}",
             f"Content-Length: {len(block)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def response(url: str, html: bytes, *, date: str = "2024-01-01T00:00:00Z", key: str | None = None,
             content_type: str | None = "text/html", status: str = "200 OK", extra_headers: dict | None = None) -> bytes:
    return record("response", http_response(html, content_type, status, extra_headers), url=url, date=date,
                  key=key or f"response:{url}")


def warcinfo(description: str, date: str = "2024-01-01T00:00:00Z") -> bytes:
    body = f"software: curation\r\ndescription: {description}\r\n".encode()
    return record("warcinfo", body, date=date, key=f"warcinfo:{description}", content_type="application/warc-fields")


def gzip_member(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def warc_gz(records: list[bytes]) -> bytes:
    """A .warc.gz file: one gzip member per record, so offsets address records."""
    return b"".join(gzip_member(r) for r in records)


def zero_gzip(nbytes: int) -> bytes:
    """A gzip member of ``nbytes`` zero bytes (a multiple of 1 MiB) built in milliseconds: a deflate block of 1 MiB of
    zeros after a full flush does not depend on what came before, so it is compressed once and repeated (a
    decompression bomb for the tests and benches of bounded inflation)."""
    c, zeros, n = zlib.compressobj(9, zlib.DEFLATED, -15), b"\0" * (1 << 20), nbytes >> 20
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * n + c.flush()
            + crc.to_bytes(4, "little") + (nbytes & 0xFFFFFFFF).to_bytes(4, "little"))
