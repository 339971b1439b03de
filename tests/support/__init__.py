"""What the tests share, and no test module imports another: scripted and served fake models, records
built by hand, the shared corpus run, command-line runs in child processes, and the session's Prefect
server."""
