"""UniBind audio plugin."""
