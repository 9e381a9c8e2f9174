"""What a command costs on AWS, measured by running it through the local runtime (docs/cost.md).

- ``units``: the billing arithmetic (item size -> write/read units, 64 KB chunks, GB-seconds) and the price table;
- ``meter``: counts every billable unit by hooking botocore clients and the local Lambda seam;
- ``samples``: one sample request per command type (a test checks every command has one);
- ``model``: drives each command type through a running LocalRuntime, the design's minimum, the tables.

Run it with ``make bench`` (bench/cost.py) or ``chronicle cost``. It is about AWS, not the emulator: it drives
chronicle.local only from inside the functions that run it, so importing this package loads no emulator.
"""
