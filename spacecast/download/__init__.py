"""`spacecast download`: record an ended or live X Space to a clean audio file."""
