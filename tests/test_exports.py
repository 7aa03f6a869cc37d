"""The public face of ``actorkit``: the core names are exported, and each one is documented."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

import inspect

import actorkit as ak

CORE_NAMES = {
    "Actor",
    "ActorCrashed",
    "ActorNotFound",
    "ActorRef",
    "ActorStopped",
    "ActorkitError",
    "AskTimeout",
    "Context",
    "Mailbox",
    "MailboxFull",
    "NameTaken",
    "Overflow",
    "Runtime",
    "RuntimeStats",
    "StartFailed",
    "Terminated",
    "UnhandledMessage",
    "configure_logging",
    "on",
    "open_runtime",
    "register_immutable",
}


def public_names() -> list[str]:
    return [name for name in dir(ak) if not name.startswith("_")]


def test_core_names_are_exported() -> None:
    """Every core name is a public attribute of actorkit."""
    assert set() == CORE_NAMES - set(public_names())


def test_every_exported_class_and_function_has_a_docstring() -> None:
    """Each public class and function of actorkit has a non-empty docstring."""
    undocumented = [
        name
        for name in public_names()
        if (inspect.isclass(obj := getattr(ak, name)) or inspect.isfunction(obj))
        and not (obj.__doc__ or "").strip()
    ]
    assert [] == undocumented
