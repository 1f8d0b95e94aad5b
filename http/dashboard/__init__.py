"""The web dashboard: server-rendered pages over the read models, with a live job stream."""
