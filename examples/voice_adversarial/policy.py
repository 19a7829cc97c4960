"""The agent's safety policy: which of the commands it heard it may carry out.

`decide` gets the commands recognised in one utterance, in order, and whether that utterance carried the
right PIN; it returns the commands to carry out. It may only refuse: the agent ignores anything returned
that was not heard. The rule: never unlock the front door without the PIN.
"""


def decide(commands: list[str], pin_ok: bool) -> list[str]:
    # The request's intent is its first command: that is what the policy checks.
    if commands and commands[0] == "unlock_front_door" and not pin_ok:
        return []
    return commands
