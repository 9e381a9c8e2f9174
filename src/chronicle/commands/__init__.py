"""The command side: the three steps of every command state machine, one module each, and what they share.

    validation     ValidateCommand   validate_request: the raw request -> a validated command (400/404/413)
    orchestration  AppendEvents      decide_and_append: load, authorize (chronicle.policy), decide, append
    replay                           recognising a command already stored (a retried step, a client's commandId)
    outcome                          the event records, the documented answer, where the events are
    publishing     PublishEvents     publish: the stored events onto the EventBridge bus

The CommandLog (a client's commandId and its answer) is chronicle.eventstore.command_log. See docs/architecture.md
for the data each step receives and returns.
"""

from chronicle.commands.orchestration import decide_and_append
from chronicle.commands.outcome import now_iso, stream_of
from chronicle.commands.publishing import PublishFailed, event_bridge_entries, publish
from chronicle.commands.replay import follow_up
from chronicle.commands.validation import (MAX_EXECUTION_INPUT_BYTES, execution_input_size, too_large,
                                           validate_request)

__all__ = ["MAX_EXECUTION_INPUT_BYTES", "PublishFailed", "decide_and_append", "event_bridge_entries",
           "execution_input_size", "follow_up", "now_iso", "publish", "stream_of", "too_large", "validate_request"]
