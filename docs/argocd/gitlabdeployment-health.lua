-- Argo CD health check for rollgate's GitLabDeployment
-- (gitlab.rollgate.dev/GitLabDeployment). Install it under
-- resource.customizations.health.gitlab.rollgate.dev_GitLabDeployment in the
-- argocd-cm ConfigMap (see the README, "GitOps tools and held rollouts").
--
--   Degraded     Stalled=True (rollgate needs a fix: bad annotation, missing
--                credentials, GitLab refusing), phase Failed (the rollout
--                exceeded its progress deadline), or approval refused
--                (Approved=False: Rejected, PipelineJobFailed, TimedOut,
--                RejectedTemplateHeld): what Git says does not run
--   Progressing  not yet reconciled, Reconciling=True (rolling out, GitLab
--                unavailable, ...) or held for approval (Approved=False,
--                AwaitingApproval or WaitingForPipeline)
--   Healthy      Ready=True: the rollout finished and its record says so
hs = {}
local function progressing(msg) hs.status = "Progressing"; hs.message = msg; return hs end
local function describe(c)
  if c.message ~= nil and c.message ~= "" then return c.reason .. ": " .. c.message end
  return c.reason
end
if obj.status == nil or obj.status.conditions == nil then
  return progressing("Waiting for rollgate to report the rollout")
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  return progressing("Waiting for rollgate to observe the latest spec")
end
local cond = {}
for _, c in ipairs(obj.status.conditions) do cond[c.type] = c end
if cond.Stalled ~= nil and cond.Stalled.status == "True" then
  hs.status = "Degraded"; hs.message = describe(cond.Stalled); return hs
end
if obj.status.phase == "Failed" then
  hs.status = "Degraded"; hs.message = "The rollout failed"
  if cond.Ready ~= nil then hs.message = hs.message .. "; " .. cond.Ready.message end
  return hs
end
local approved = cond.Approved
if approved ~= nil and approved.status == "False" then
  if approved.reason == "AwaitingApproval" or approved.reason == "WaitingForPipeline" then
    return progressing("Held for approval in GitLab: " .. describe(approved))
  end
  hs.status = "Degraded"; hs.message = "Not approved: " .. describe(approved); return hs
end
if cond.Reconciling ~= nil and cond.Reconciling.status == "True" then
  return progressing(describe(cond.Reconciling))
end
if cond.Ready ~= nil and cond.Ready.status == "True" then
  hs.status = "Healthy"; hs.message = cond.Ready.message; return hs
end
if cond.Ready ~= nil then return progressing(describe(cond.Ready)) end
return progressing("Waiting for rollgate to report the rollout")
