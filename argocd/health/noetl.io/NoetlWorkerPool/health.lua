-- Argo CD health check for noetl.io/NoetlWorkerPool.
--
-- Install as argocd-cm key `resource.customizations.health.noetl.io_NoetlWorkerPool` (see
-- argocd/health/kustomization.yaml), or upstream as resource_customizations/noetl.io/NoetlWorkerPool/health.lua.
-- Argo CD runs it with the live object as the global `obj` (gopher-lua, Lua 5.1 syntax).
--
--   Progressing  the operator has not yet reconciled the current spec (status.observedGeneration, or
--                Ready's own observedGeneration, is behind metadata.generation), there is no Ready
--                condition yet, or Ready=False while a rollout or scale-up is still under way
--                (a pool being deleted is Progressing "Pending deletion", decided by Argo CD itself)
--   Healthy      Ready=True for the current generation
--   Degraded     Degraded=True, or Ready=False because something failed that needs a human: a rollout
--                past its progress deadline, KEDA missing, a Secret missing, a refused consumer

local hs = {}

-- Reasons (on Ready or on the condition Ready summarises) that will not resolve by waiting.
local failing = {
  ProgressDeadlineExceeded = true,
  KedaNotInstalled = true,
  Fallback = true,
  SecretNotFound = true,
  SecretKeyNotFound = true,
  SecretsMissing = true,
  ConsumerRefused = true,
  InvalidSpec = true,
  Failed = true,
  Error = true,
  Errored = true,
}

local function find(conditions, kind)
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

local generation = obj.metadata.generation

-- No deletion branch: Argo CD never runs a health check on an object with a deletionTimestamp; it
-- reports Progressing "Pending deletion" itself (gitops-engine pkg/health, before any script). The
-- case is in decided_by_argocd.yaml and runs through the real binary (tests/argocd).

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the pool"
  return hs
end

if generation ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. generation ..
    " (observed " .. obj.status.observedGeneration .. ")"
  return hs
end

local conditions = obj.status.conditions or {}
local degraded = find(conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "The pool is degraded (" .. (degraded.reason or "no reason") .. ")")
  return hs
end

local ready = find(conditions, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Ready to be computed for generation " .. generation
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "The pool is ready")
  return hs
end

if ready.status == "False" then
  if failing[ready.reason] then
    hs.status = "Degraded"
    hs.message = describe(ready, "The pool is not ready (" .. ready.reason .. ")")
    return hs
  end
  for _, condition in ipairs(conditions) do
    if condition.type ~= "Ready" and condition.status == "False" and failing[condition.reason] then
      hs.status = "Degraded"
      hs.message = condition.type .. ": " .. describe(condition, condition.reason)
      return hs
    end
  end
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the pool to become ready")
return hs
