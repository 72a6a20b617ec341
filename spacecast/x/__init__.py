"""A small client for X's Space API, shared by `spacecast download` and `spacecast session`.

Public API:
- `ids.parse_space_id(text)`: a Space URL or bare id -> the 13-character id.
- `auth.load_cookies(path)` / `auth.Auth`: cookies (Netscape cookies.txt or JSON) or guest access
  with a cached, refreshed guest token.
- `api.XClient`: `space(space_id)` -> `models.SpaceMetadata` (state, media_key, title, host),
  `stream_location(media_key)` -> the HLS URL of the live or replay stream.
- `playlists`: from a status location to the master playlist and the "true master" chunk list.
- `errors`: typed failures (each a `UserError` with its own exit code).
"""
