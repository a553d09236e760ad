"""`make bench`: the pipeline measured on a fresh embedded stack against the emulator's own ceiling.

run.py drives it; ceiling.py is the trivial chain of the same shape; request_hook.py and counting.py
count every AWS request where it is made; invocations.py reads what each invocation took from its
logs; memory.py samples the emulator's memory; feed.py makes the ticks; profile.py and cost.py turn
the counts into a monthly bill beside the reference design's; prices.py holds the prices.
"""
