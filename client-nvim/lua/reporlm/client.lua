-- The language client: start `reporlm serve` per repository root, send the server's commands with
-- a work-done token of ours, follow their `$/progress`, cancel them with `$/cancelRequest`.
--
-- Two API generations: Neovim 0.7 has only vim.lsp.start_client and client.method(...); 0.8 brought
-- vim.lsp.start, 0.10 vim.lsp.get_clients, and 0.11 made client methods take self (client:method).
local M = {}

M.NAME = "reporlm"

local uv = vim.uv or vim.loop
local METHODS_TAKE_SELF = vim.fn.has("nvim-0.11") == 1

-- client:method(...) on 0.11+, client.method(...) before (0.11 warns about the old form).
local function call(client, method, ...)
  if METHODS_TAKE_SELF then
    return client[method](client, ...)
  end
  return client[method](...)
end

-- A plain request (no run, no progress): `handler(err, result, ctx)`.
function M.request(c, method, params, handler, bufnr)
  return call(c, "request", method, params, handler, bufnr)
end

function M.clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ name = M.NAME })
  end
  return vim.tbl_filter(function(c)
    return c.name == M.NAME
  end, vim.lsp.get_active_clients())
end

-- Runs in flight, oldest first: {client_id, request_id, token, kind, title, message, root}.
local runs = {}
local by_token = {}
local counter = 0
local listeners = {}

-- `fn(run)` is called (in the main loop) whenever a run's progress changes or it ends.
function M.on_change(fn)
  table.insert(listeners, fn)
end

local function changed(run)
  for _, fn in ipairs(listeners) do
    fn(run)
  end
end

local function forget(run)
  by_token[run.token] = nil
  for i, r in ipairs(runs) do
    if r == run then
      table.remove(runs, i)
      return
    end
  end
end

-- The runs whose request is still pending. A run cancelled before it started is answered with a
-- RequestCancelled error, which Neovim swallows without calling the handler: it is dropped here.
function M.runs()
  local live = {}
  for _, run in ipairs(runs) do
    local client = vim.lsp.get_client_by_id(run.client_id)
    if client and run.request_id and client.requests[run.request_id] then
      table.insert(live, run)
    else
      by_token[run.token] = nil
    end
  end
  runs = live
  return live
end

-- `$/progress`: ours updates its run; every token also goes to Neovim's own handler, so
-- vim.lsp.status(), LspProgress and statusline plugins see reporlm's runs like any server's.
function M.on_progress(err, params, ctx, config)
  local default = vim.lsp.handlers["$/progress"]
  if default and default ~= M.on_progress then
    pcall(default, err, params, ctx, config)
  end
  local run = params and by_token[params.token]
  local value = run and params.value
  if type(value) ~= "table" then
    return
  end
  if value.kind == "begin" then
    run.message = value.message or value.title or run.message
  elseif value.kind == "report" and value.message then
    run.message = value.message
  elseif value.kind == "end" then
    run.message = value.message or "done"
    run.ended = true
  end
  changed(run)
end

local trace_listeners = {}

function M.on_trace_event(fn)
  table.insert(trace_listeners, fn)
end

-- `reporlm/trace`: one event of a run's trace (iteration, code, output, sub-calls, final).
function M.on_trace(_, event, ctx)
  for _, fn in ipairs(trace_listeners) do
    fn(event, ctx.client_id)
  end
end

-- Handlers for a client started elsewhere (nvim-lspconfig, vim.lsp.config): progress and trace.
M.handlers = {
  ["$/progress"] = function(...)
    return M.on_progress(...)
  end,
  ["reporlm/trace"] = function(...)
    return M.on_trace(...)
  end,
}

-- Where the server process starts: never the repository, so that a `python -m reporlm` command
-- (without -P) cannot import modules from the folder being asked about.
local function neutral_cwd()
  local dir = vim.fn.stdpath("cache")
  vim.fn.mkdir(dir, "p")
  return vim.fn.isdirectory(dir) == 1 and dir or "/"
end

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

-- The repository root of a buffer: the closest folder above its file holding a root marker.
-- Buffers that are not files (scratch, terminal, fugitive://...) have none.
function M.find_root(bufnr, opts)
  if type(opts.root_dir) == "function" then
    return opts.root_dir(bufnr)
  elseif type(opts.root_dir) == "string" then
    return opts.root_dir
  end
  if vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or name:match("^%a[%w+.-]*://") then
    return nil
  end
  local dir = vim.fn.fnamemodify(name, ":p:h")
  while dir and dir ~= "" do
    for _, marker in ipairs(opts.root_markers) do
      if exists(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      return nil
    end
    dir = parent
  end
end

function M.for_root(root)
  for _, client in ipairs(M.clients()) do
    if client.config.root_dir == root then
      return client
    end
  end
end

local function config_for(root, opts)
  local init = opts.init_options
  if init == nil or vim.tbl_isempty(init) then
    init = vim.empty_dict() -- an object on the wire, not []
  end
  return {
    name = M.NAME,
    cmd = opts.cmd,
    cmd_cwd = opts.cmd_cwd or neutral_cwd(),
    cmd_env = opts.cmd_env,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") } },
    init_options = init,
    handlers = M.handlers,
    on_exit = function(code, signal, client_id)
      vim.schedule(function()
        for _, run in ipairs(runs) do
          if run.client_id == client_id then
            run.message = "the server exited"
            changed(run)
          end
        end
        M.runs()
        if code ~= 0 and signal ~= 15 then
          vim.notify(
            string.format("reporlm: the server for %s exited (code %d); see %s", root, code, vim.lsp.get_log_path()),
            vim.log.levels.WARN
          )
        end
      end)
    end,
  }
end

-- The client for `root`, started if need be; `bufnr` (a file of that root) is attached to it.
function M.start(root, opts, bufnr)
  local config = config_for(root, opts)
  if vim.lsp.start and (bufnr or vim.fn.has("nvim-0.10") == 1) then
    return vim.lsp.start(config, { bufnr = bufnr, attach = bufnr ~= nil })
  end
  -- 0.7 (and 0.8-0.9 without a buffer to attach): one client per root, kept by hand.
  local client = M.for_root(root)
  local id = client and client.id or vim.lsp.start_client(config)
  if id and bufnr and not vim.lsp.buf_is_attached(bufnr, id) then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

-- Call `fn(client)` once the client has answered `initialize` (right away if it has).
function M.when_ready(client_id, fn)
  local client = vim.lsp.get_client_by_id(client_id)
  if client and client.initialized then
    return fn(client)
  end
  local timer, waited, done = uv.new_timer(), 0, false
  timer:start(20, 20, vim.schedule_wrap(function()
    if done then
      return
    end
    waited = waited + 20
    local c = vim.lsp.get_client_by_id(client_id)
    if (c and c.initialized) or not c or waited > 60000 then
      done = true
      timer:stop()
      timer:close()
      if c and c.initialized then
        fn(c)
      else
        vim.notify("reporlm: the server did not start; see " .. vim.lsp.get_log_path(), vim.log.levels.ERROR)
      end
    end
  end))
end

-- Send one server command (`workspace/executeCommand`) with a progress token of ours.
-- `on_result(err, result)` gets the answer; a cancelled run answers with its partial result.
function M.execute(client, bufnr, command, argument, run, on_result)
  counter = counter + 1
  run.client_id = client.id
  run.token = "reporlm-nvim-" .. counter
  run.message = run.message or "starting"
  local params = { command = command, arguments = { argument }, workDoneToken = run.token }
  local ok, request_id = call(client, "request", "workspace/executeCommand", params, function(err, result)
    forget(run)
    run.ended = true
    changed(run)
    on_result(err, result)
  end, bufnr)
  if not ok then
    on_result({ message = "the reporlm server is not running" }, nil)
    return nil
  end
  run.request_id = request_id
  table.insert(runs, run)
  by_token[run.token] = run
  changed(run)
  return run
end

-- Cancel the newest run (or every run): the server stops it and answers with the partial result.
function M.cancel(all)
  local live = M.runs()
  local targets = all and live or { live[#live] }
  for _, run in ipairs(targets) do
    local client = vim.lsp.get_client_by_id(run.client_id)
    if client then
      call(client, "cancel_request", run.request_id)
      run.message = "cancelling"
      changed(run)
    end
  end
  return #targets
end

return M
