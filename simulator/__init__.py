"""A faithful local simulator of X's Space endpoints and media (`spacecast simulate`)."""
