"""Symbol tables and debug sections out of the native libraries of a bundle (`--strip-unneeded`); never loaded on
Lambda, they are ~12 MB of the arm64 chat bundle (SQLAlchemy's debug info, cryptography's symbol table).

Any strip that can read the target's ELF will do: binutils for that architecture, LLVM's `llvm-strip` (every
architecture), or the host's `strip` when the bundle is for the host. A stripped file is kept only when every byte the
loader maps is the one it had: a strip that would rewrite a loaded part (GNU strip on a foreign architecture through
its generic ELF target zeroes the machine field; files patched by auditwheel get their segments repacked) leaves the
file as it was.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

GNU_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
_ELF64_LITTLE = b"\x7fELF\x02\x01"
_PT_LOAD = 1


@dataclass(frozen=True)
class StripOutcome:
    """What stripping did to one tree: the tool used (None when this machine has none for the architecture)."""

    tool: str | None
    stripped: int
    left_as_they_were: int
    saved_bytes: int


def strip_tool(architecture: str, host_architecture: str) -> str | None:
    gnu = GNU_MACHINES[architecture]
    return (
        shutil.which(f"{gnu}-linux-gnu-strip")
        or shutil.which("llvm-strip")
        or (shutil.which("strip") if architecture == host_architecture else None)
    )


def strip_native_libraries(tree: Path, architecture: str, host_architecture: str) -> StripOutcome:
    tool = strip_tool(architecture, host_architecture)
    if tool is None:
        return StripOutcome(tool=None, stripped=0, left_as_they_were=0, saved_bytes=0)
    stripped = kept = saved = 0
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / "library"
        for library in sorted(tree.rglob("*.so*")):
            if not library.is_file() or library.is_symlink():
                continue
            before = library.read_bytes()
            loaded = loaded_bytes(before)
            if loaded is None:
                continue
            candidate.write_bytes(before)
            run = subprocess.run([tool, "--strip-unneeded", str(candidate)], capture_output=True, check=False)
            after = candidate.read_bytes()
            if run.returncode != 0 or len(after) >= len(before) or loaded_bytes(after) != loaded:
                kept += 1
                continue
            library.write_bytes(after)
            stripped += 1
            saved += len(before) - len(after)
    return StripOutcome(tool=tool, stripped=stripped, left_as_they_were=kept, saved_bytes=saved)


def loaded_bytes(elf: bytes) -> bytes | None:
    """Everything the loader maps from a 64-bit little-endian ELF file (its program headers and the contents of its
    loadable segments), minus the header fields that only locate the section table; None for any other file."""
    if not elf.startswith(_ELF64_LITTLE) or len(elf) < 64:
        return None
    header = bytearray(elf[:64])
    header[0x28:0x30] = bytes(8)  # e_shoff
    header[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    (program_headers,) = struct.unpack_from("<Q", elf, 0x20)
    entry_size, count = struct.unpack_from("<HH", elf, 0x36)
    parts = [bytes(header)]
    for index in range(count):
        start = program_headers + index * entry_size
        entry = elf[start : start + entry_size]
        if len(entry) < 56:
            return None
        kind, _, offset, _, _, file_size = struct.unpack_from("<IIQQQQ", entry)
        parts.append(entry)
        if kind == _PT_LOAD:
            segment = elf[offset : offset + file_size]
            if offset < 64:  # the first segment holds the ELF header itself
                segment = bytes(header[offset:]) + segment[64 - offset :]
            parts.append(segment)
    return b"".join(parts)
