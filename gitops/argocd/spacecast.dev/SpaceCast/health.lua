-- Argo CD health of a SpaceCast (spacecast.dev/v1alpha1), from the status the controller
-- writes (controller/status.py). Argo CD runs this with `obj`, the object, as a global; it
-- must return {status = ..., message = ...}. Lua 5.1, as Argo CD's interpreter speaks it.
--
--   no status yet, or a status for an older generation  Progressing  (the controller has not
--                                                                     caught up with the spec)
--   Pending, Starting                                   Progressing  (a pod on its way, a free
--                                                                     slot or a Secret awaited)
--   Live                                                Healthy      (media flowing; a silent
--                                                                     cast is Live, its silence
--                                                                     in the message and the
--                                                                     alerts)
--   Completed                                           Healthy      (the Space ended)
--   Suspended                                           Suspended
--   Failed                                              Degraded
--   anything else                                       Unknown
local hs = {status = "Progressing", message = "waiting for the spacecast controller"}
local status = obj.status
if status == nil or status.phase == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration or 0) < generation then
  hs.message = "the spacecast controller has not seen the latest spec yet"
  return hs
end

local function condition(kind)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local phase = status.phase
hs.message = status.message or phase
if phase == "Live" then
  hs.status = "Healthy"
  local silent = condition("Silent")
  if silent ~= nil and silent.status == "True" then
    hs.message = "Live, but silent: " .. (silent.message or "no sound")
  end
elseif phase == "Completed" then
  hs.status = "Healthy"
elseif phase == "Pending" or phase == "Starting" then
  hs.status = "Progressing"
elseif phase == "Suspended" then
  hs.status = "Suspended"
elseif phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Unknown"
  hs.message = "unknown phase " .. tostring(phase)
end
return hs
