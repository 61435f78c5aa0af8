"""The staff console: server-rendered Polish pages on the same FastAPI app as the
catalogue API. Pages work without JavaScript; every action is a command sent through
`app.handle`, so no rule is written again here."""
