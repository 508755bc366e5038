-- reporlm for Neovim (0.7 and newer, nothing else needed): ask questions about the repository,
-- plan changes, explain the symbol under the cursor. Answers open as Markdown in a split, their
-- citations fill the quickfix list, progress shows on the command line.
--
--   require("reporlm").setup({ cmd = { "reporlm", "serve" }, init_options = { provider = "anthropic" } })
local client = require("reporlm.client")
local render = require("reporlm.render")
local view = require("reporlm.view")

local M = {}

local COMMANDS = {
  ask = "reporlm.server.ask",
  plan = "reporlm.server.plan",
  explain = "reporlm.server.explain",
  status = "reporlm.server.status",
}

M.defaults = {
  -- The server command. `{ "python3", "-P", "-m", "reporlm", "serve" }` works too (-P keeps the
  -- working folder off sys.path); it is started outside the repository either way (cmd_cwd).
  cmd = { "reporlm", "serve" },
  cmd_env = nil,
  cmd_cwd = nil, -- nil: Neovim's cache folder, never the repository
  -- Sent as initializationOptions: provider, model, subModel, baseUrl, apiKeyFile, budget, maxRuns...
  init_options = {},
  root_markers = { ".git" },
  root_dir = nil, -- a path, or function(bufnr) -> path|nil, instead of root_markers
  autostart = true, -- attach to file buffers inside a root as they are entered
  filetypes = nil, -- nil: every file type; else a list
  split = "vertical", -- where the answer opens: "vertical", "horizontal" or "tab"
  focus = false, -- move the cursor into the answer's window
  open_quickfix = true, -- open the quickfix window when an answer cites something
  progress = true, -- echo each run's progress on the command line
  on_trace = nil, -- function(event, client_id): every `reporlm/trace` event
}

M.config = vim.deepcopy(M.defaults)

-- Handlers to give a reporlm client started elsewhere (nvim-lspconfig, vim.lsp.config), so its
-- progress reaches this plugin: `handlers = require("reporlm").handlers`.
M.handlers = client.handlers

local failed_roots = {} -- autostart tries a root once; an explicit command tries again

local function attach(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= "" then
    return
  end
  local filetypes = M.config.filetypes
  if filetypes and not vim.tbl_contains(filetypes, vim.bo[bufnr].filetype) then
    return
  end
  local root = client.find_root(bufnr, M.config)
  if not root or failed_roots[root] then
    return
  end
  for _, c in ipairs(client.clients()) do
    if vim.lsp.buf_is_attached(bufnr, c.id) then
      return
    end
  end
  if not client.start(root, M.config, bufnr) then
    failed_roots[root] = true
  end
end

-- The client a command in `bufnr` talks to, and the root it is about; started if need be:
-- the buffer's own client, else the one for its root (or the answer buffer's), else the only
-- one running, else one for the current directory.
local function pick(bufnr)
  for _, c in ipairs(client.clients()) do
    if vim.lsp.buf_is_attached(bufnr, c.id) then
      return c, c.config.root_dir
    end
  end
  local root = vim.b[bufnr].reporlm_root or client.find_root(bufnr, M.config)
  local attachable = root and vim.bo[bufnr].buftype == "" and vim.api.nvim_buf_get_name(bufnr) ~= ""
  if not root then
    local running = client.clients()
    if #running == 1 then
      return running[1], running[1].config.root_dir
    end
    root = vim.fn.getcwd()
  end
  local existing = client.for_root(root)
  if existing then
    if attachable then
      vim.lsp.buf_attach_client(bufnr, existing.id)
    end
    return existing, root
  end
  failed_roots[root] = nil
  local id = client.start(root, M.config, attachable and bufnr or nil)
  if not id then
    return nil, root
  end
  return vim.lsp.get_client_by_id(id), root
end

local function heading(kind, text)
  local words = { ask = "Asked", plan = "Plan for", explain = "Explain" }
  return string.format("%s: %s", words[kind], (text:gsub("\n", " ")))
end

local function report_error(kind, err)
  local message = type(err) == "table" and (err.message or vim.inspect(err)) or tostring(err)
  local code = type(err) == "table" and err.code
  view.error(string.format("reporlm %s failed%s: %s", kind, code and (" (" .. code .. ")") or "", message))
end

-- Start a run of `kind`; the answer opens when it comes.
local function run(kind, text, argument, bufnr)
  local c, root = pick(bufnr)
  if not c then
    view.error("reporlm: the server could not start (cmd = " .. table.concat(M.config.cmd, " ") .. ")")
    return
  end
  local job = { kind = kind, title = text, root = root }
  client.when_ready(c.id, function(ready)
    if type(argument) == "function" then
      argument = argument(ready)
    end
    if kind ~= "explain" and root then -- explain's folder is its document's
      argument.folder = vim.uri_from_fname(root)
    end
    client.execute(ready, bufnr, COMMANDS[kind], argument, job, function(err, result)
      if err then
        return report_error(kind, err)
      end
      local title = "reporlm " .. kind .. ": " .. text
      local lines, items
      if kind == "plan" then
        lines, items = render.plan(result, heading(kind, text)), render.plan_items(result)
      else
        lines, items = render.answer(result, heading(kind, text)), render.citation_items(result)
      end
      view.show("reporlm://answer", lines, { root = root, split = M.config.split, focus = M.config.focus })
      view.quickfix(title, items, M.config.open_quickfix)
      local state = result.partial and ("partial (" .. tostring(result.reason) .. ")") or "answered"
      view.echo(string.format("reporlm %s: %s, %d citations in the quickfix list", kind, state, #items))
    end)
  end)
  return job
end

function M.ask(question, opts)
  opts = opts or {}
  if not question or vim.trim(question) == "" then
    return view.error("reporlm: ask what? (:ReporlmAsk {question})")
  end
  local argument = { question = vim.trim(question), scope = opts.scope, budget = opts.budget }
  return run("ask", argument.question, argument, opts.bufnr or vim.api.nvim_get_current_buf())
end

function M.plan(goal, opts)
  opts = opts or {}
  if not goal or vim.trim(goal) == "" then
    return view.error("reporlm: plan what? (:ReporlmPlan {goal})")
  end
  local argument = { goal = vim.trim(goal), scope = opts.scope, budget = opts.budget }
  return run("plan", argument.goal, argument, opts.bufnr or vim.api.nvim_get_current_buf())
end

-- Explain the symbol under the cursor (the position is taken now, in the client's encoding once
-- the server said which).
function M.explain(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local name = vim.api.nvim_buf_get_name(bufnr)
  if vim.bo[bufnr].buftype ~= "" or name == "" then
    return view.error("reporlm: explain works in a file of the repository")
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local word = vim.fn.expand("<cword>")
  local where = string.format("%s at %s:%d", word, vim.fn.fnamemodify(name, ":."), row)
  return run("explain", where, function(ready)
    local character = vim.lsp.util.character_offset(bufnr, row - 1, col, ready.offset_encoding)
    return {
      uri = vim.uri_from_bufnr(bufnr),
      position = { line = row - 1, character = character },
      budget = opts.budget,
    }
  end, bufnr)
end

function M.status()
  local bufnr = vim.api.nvim_get_current_buf()
  local c, root = pick(bufnr)
  if not c then
    return view.error("reporlm: the server could not start (cmd = " .. table.concat(M.config.cmd, " ") .. ")")
  end
  client.when_ready(c.id, function(ready)
    local argument = root and { folder = vim.uri_from_fname(root) } or vim.empty_dict()
    local params = { command = COMMANDS.status, arguments = { argument } }
    local function done(err, result)
      if err then
        return report_error("status", err)
      end
      view.show("reporlm://status", render.status(result), { root = root, split = M.config.split, focus = M.config.focus })
      view.echo(render.status_line(result))
    end
    client.request(ready, "workspace/executeCommand", params, done, bufnr)
  end)
end

-- Cancel the newest run (all runs with `all`); each answers with its partial result.
function M.cancel(all)
  local n = client.cancel(all)
  if n == 0 then
    view.echo("reporlm: nothing to cancel")
  end
  return n
end

-- The runs in flight: { { kind, title, message, client_id, request_id }, ... }, oldest first.
function M.runs()
  return client.runs()
end

-- The newest run's progress ("reporlm ask: iteration 2/30 · 1 sub-calls · ..."), or "": for a
-- statusline. `User ReporlmProgress` fires when it changes.
function M.statusline()
  local live = client.runs()
  local newest = live[#live]
  if not newest then
    return ""
  end
  local more = #live > 1 and string.format(" (+%d)", #live - 1) or ""
  return string.format("reporlm %s: %s%s", newest.kind, newest.message or "", more)
end

client.on_change(function(job)
  if M.config.progress and not job.ended then
    view.echo(string.format("reporlm %s: %s", job.kind, job.message or ""))
  end
  vim.api.nvim_exec_autocmds("User", { pattern = "ReporlmProgress", modeline = false })
end)

client.on_trace_event(function(event, client_id)
  if M.config.on_trace then
    M.config.on_trace(event, client_id)
  end
end)

local function range_prefix(cmd)
  if cmd.range == 0 then
    return ""
  end
  local name = vim.api.nvim_buf_get_name(0)
  if name == "" then
    return ""
  end
  return string.format("About %s:%d-%d: ", vim.fn.fnamemodify(name, ":."), cmd.line1, cmd.line2)
end

local function prompt(label, prefix, fn)
  vim.ui.input({ prompt = label, default = prefix }, function(text)
    if text and vim.trim(text) ~= "" then
      fn(text)
    end
  end)
end

local function define_commands()
  local command = vim.api.nvim_create_user_command
  command("ReporlmAsk", function(cmd)
    local prefix = range_prefix(cmd)
    if cmd.args == "" then
      return prompt("reporlm ask: ", prefix, M.ask)
    end
    M.ask(prefix .. cmd.args)
  end, { nargs = "*", range = true, desc = "Ask reporlm about this repository" })
  command("ReporlmPlan", function(cmd)
    if cmd.args == "" then
      return prompt("reporlm plan: ", "", M.plan)
    end
    M.plan(cmd.args)
  end, { nargs = "*", desc = "Plan a change with reporlm" })
  command("ReporlmExplain", function()
    M.explain()
  end, { nargs = 0, desc = "Explain the symbol under the cursor with reporlm" })
  command("ReporlmStatus", function()
    M.status()
  end, { nargs = 0, desc = "Show the reporlm server's status" })
  command("ReporlmCancel", function(cmd)
    M.cancel(cmd.bang)
  end, { nargs = 0, bang = true, desc = "Cancel the newest reporlm run (! every run)" })
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  if opts and opts.init_options then
    M.config.init_options = opts.init_options -- as given: a deep merge would keep unset defaults
  end
  define_commands()
  local group = vim.api.nvim_create_augroup("reporlm", { clear = true })
  if M.config.autostart then
    vim.api.nvim_create_autocmd({ "BufEnter", "FileType" }, {
      group = group,
      callback = function(args)
        attach(args.buf)
      end,
    })
    attach(vim.api.nvim_get_current_buf())
  end
end

return M
