"""`spacecast session`: one live cast. A supervisor runs, in order, the virtual display, the
audio server with its null sink, Chromium joined to the Space, the pusher (ffmpeg encoding the
display and the sink, then our RTMP publishers), the audio meter, and on demand the HLS audio
rescue; it exports health to Prometheus and ends when the Space does."""
