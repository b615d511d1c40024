"""Tiny protobuf helpers that mirror C++ ``set_x`` / ``add_x`` / ``mutable_x()->CopyFrom``."""

from __future__ import annotations

from google.protobuf.message import Message


def assign(msg: Message, name: str, value) -> None:
    """Store value in field ``name`` of msg: append when repeated, copy when a message (marking
    it present even when empty, as C++ ``mutable_x()`` does), plain set otherwise."""
    fd = msg.DESCRIPTOR.fields_by_name[name]
    target = getattr(msg, name)
    if fd.message_type is not None:
        if fd.is_repeated:
            target.add().CopyFrom(value)
        else:
            target.SetInParent()
            target.CopyFrom(value)
    elif fd.is_repeated:
        target.append(value)
    else:
        setattr(msg, name, value)


def copy_message(src: Message) -> Message:
    """A deep copy of src (the caller's message is never modified)."""
    dst = type(src)()
    dst.CopyFrom(src)
    return dst


def set_field_names(msg: Message) -> list[str]:
    """Names of the fields present in msg, in field-number order."""
    return [fd.name for fd, _ in msg.ListFields()]

