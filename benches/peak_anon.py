#!/usr/bin/env python3
"""Run a command and report its peak anonymous memory (RssAnon), sampled every 5 ms from
/proc, separately from file-backed pages such as a mapped db.

usage: peak_anon.py CMD [ARGS...]     (the command's stdout goes to /dev/null)
"""
import subprocess, sys, time

def field(pid, name):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0

p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
peak_anon = peak_file = 0
while p.poll() is None:
    peak_anon = max(peak_anon, field(p.pid, "RssAnon"))
    peak_file = max(peak_file, field(p.pid, "RssFile"))
    time.sleep(0.005)
print("peak RssAnon %.1f MB, peak RssFile %.1f MB, exit %d" % (peak_anon / 1024, peak_file / 1024, p.returncode))
sys.exit(p.returncode)
