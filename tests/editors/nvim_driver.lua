-- Drives Neovim (headless, -u NONE) through the reporlm plugin as a user would, against a real
-- `reporlm serve` with a scripted model, and writes what it saw to a JSON file for pytest.
-- Every wait is on a condition with a timeout, never a fixed sleep.
--
-- $REPORLM_NVIM_TEST names a JSON file: {plugin, cmd?, init_options, repo, results, scenario}:
-- "full" runs status, ask, plan, explain and cancel; "status" stops after the status; "external"
-- starts the client as docs/editors.md shows for users of their own client configuration
-- (vim.lsp.config on 0.11+, vim.lsp.start_client on 0.7), then runs status and ask.
local config = vim.json.decode(table.concat(vim.fn.readfile(vim.env.REPORLM_NVIM_TEST), "\n"))
local WAIT_MS = 30000
local out = { steps = {} }

local function save()
  vim.fn.writefile({ vim.json.encode(out) }, config.results)
end

local function wait(what, condition)
  if not vim.wait(WAIT_MS, condition, 10) then
    error("timed out waiting for " .. what, 2)
  end
end

local function lines_of(name)
  local bufnr = vim.fn.bufnr(name)
  if bufnr == -1 then
    return nil
  end
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

local function quickfix()
  local info = vim.fn.getqflist({ title = 1, items = 1, id = 0 })
  local items = {}
  for _, item in ipairs(info.items) do
    table.insert(items, {
      file = vim.api.nvim_buf_get_name(item.bufnr),
      lnum = item.lnum,
      end_lnum = item.end_lnum,
      text = item.text,
    })
  end
  return { title = info.title, id = info.id, items = items }
end

-- The windows of the tab page: which buffer each shows, and which one has the cursor.
local function windows()
  local list = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local bufnr = vim.api.nvim_win_get_buf(win)
    table.insert(list, {
      name = vim.api.nvim_buf_get_name(bufnr),
      filetype = vim.bo[bufnr].filetype,
      buftype = vim.bo[bufnr].buftype,
      current = win == vim.api.nvim_get_current_win(),
    })
  end
  return list
end

local progress = {} -- every statusline text seen on `User ReporlmProgress`
local traces = {} -- kinds of the `reporlm/trace` events, in order

-- Run a command and wait until a new quickfix list titled `title` is there.
local function answered(command, title)
  local before = vim.fn.getqflist({ id = 0 }).id
  vim.cmd(command)
  wait(title, function()
    local now = vim.fn.getqflist({ id = 0, title = 1 })
    return now.id ~= before and now.title == title
  end)
  return { quickfix = quickfix(), answer = lines_of("reporlm://answer"), windows = windows() }
end

local function main()
  vim.opt.runtimepath:prepend(config.plugin)
  local reporlm = require("reporlm")
  local external = config.scenario == "external"
  reporlm.setup({
    cmd = config.cmd,
    init_options = config.init_options,
    autostart = not external,
    on_trace = function(event)
      table.insert(traces, event.kind)
    end,
  })
  if external and vim.lsp.config then
    vim.lsp.config("reporlm", {
      cmd = config.cmd or { "reporlm", "serve" },
      root_markers = { ".git" },
      init_options = config.init_options,
      handlers = reporlm.handlers,
    })
    vim.lsp.enable("reporlm")
    vim.cmd("filetype on") -- vim.lsp.enable attaches on FileType, which -u NONE leaves off
  end
  vim.api.nvim_create_autocmd("User", {
    pattern = "ReporlmProgress",
    callback = function()
      table.insert(progress, reporlm.statusline())
    end,
  })
  out.version = tostring(vim.version().major) .. "." .. vim.version().minor .. "." .. vim.version().patch
  out.api = vim.lsp.start and "vim.lsp.start" or "vim.lsp.start_client"

  vim.cmd("edit " .. vim.fn.fnameescape(config.repo .. "/shop/orders.py"))
  local code_buffer = vim.api.nvim_get_current_buf()
  if external and not vim.lsp.config then
    local id = vim.lsp.start_client({
      name = "reporlm",
      cmd = config.cmd or { "reporlm", "serve" },
      root_dir = config.repo,
      init_options = config.init_options,
      handlers = reporlm.handlers,
    })
    vim.lsp.buf_attach_client(code_buffer, id)
  end
  out.api = external and (vim.lsp.config and "vim.lsp.config" or "vim.lsp.start_client") or out.api
  local rpc = require("reporlm.client")
  wait("the server to initialize", function()
    local c = rpc.clients()[1]
    return c and c.initialized and vim.lsp.buf_is_attached(code_buffer, c.id)
  end)
  local c = rpc.clients()[1]
  local provider = c.server_capabilities and c.server_capabilities.executeCommandProvider
    or c.resolved_capabilities and c.resolved_capabilities.execute_command
  out.steps.initialize = {
    clients = #rpc.clients(),
    root = c.config.root_dir,
    commands = (c.server_capabilities or {}).executeCommandProvider
      and c.server_capabilities.executeCommandProvider.commands,
    can_execute = provider and true or false,
  }

  vim.cmd("ReporlmStatus")
  wait("the status buffer", function()
    local lines = lines_of("reporlm://status")
    return lines and #lines > 1
  end)
  out.steps.status = { lines = lines_of("reporlm://status"), windows = windows() }
  vim.cmd("only") -- back to one window, as before
  if config.scenario == "status" then
    return
  end

  out.steps.ask = answered("ReporlmAsk Where are retries configured?", "reporlm ask: Where are retries configured?")
  vim.cmd("cfirst")
  out.steps.ask.jump = { file = vim.api.nvim_buf_get_name(0), line = vim.api.nvim_win_get_cursor(0)[1] }
  out.steps.ask.progress = vim.deepcopy(progress)
  out.steps.ask.statusline_after = reporlm.statusline()
  vim.cmd("buffer " .. code_buffer)
  if external then
    return
  end

  out.steps.plan = answered("ReporlmPlan make the retry count configurable", "reporlm plan: make the retry count configurable")

  -- Explain the name `with_retries` on line 5 ("    return with_retries(...)"), cursor inside it.
  vim.api.nvim_set_current_buf(code_buffer)
  vim.api.nvim_win_set_cursor(0, { 5, 14 })
  out.steps.explain = answered("ReporlmExplain", "reporlm explain: with_retries at shop/orders.py:5")

  -- A run whose code block sleeps for minutes: cancelled once the block runs, it answers partially.
  local seen = #traces
  vim.cmd("ReporlmAsk slow question")
  wait("the slow block to start", function()
    for i = seen + 1, #traces do
      if traces[i] == "code" then
        return true
      end
    end
    return false
  end)
  local running = reporlm.runs()
  out.steps.cancel = {
    runs_before = #running,
    request_id = running[1] and running[1].request_id,
    statusline_before = reporlm.statusline(),
  }
  local before = vim.fn.getqflist({ id = 0 }).id
  vim.cmd("ReporlmCancel")
  wait("the partial answer", function()
    return vim.fn.getqflist({ id = 0 }).id ~= before
  end)
  out.steps.cancel.answer = lines_of("reporlm://answer")
  out.steps.cancel.quickfix = quickfix()
  out.steps.cancel.runs_after = #reporlm.runs()
  out.steps.cancel.statusline_after = reporlm.statusline()
  out.steps.cancel.nothing_left = reporlm.cancel()
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  out.error = err
end
out.traces = traces
out.messages = vim.fn.execute("messages")
save()
vim.cmd(ok and "qall!" or "cquit! 1")
