"""`spacecast controller`: watches SpaceCasts and runs one session pod per cast."""
