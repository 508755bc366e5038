-- Where results go: a Markdown scratch buffer in a split, the quickfix list, the command line.
local M = {}

local function buffer_named(name)
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(bufnr) == name then
      return bufnr
    end
  end
  local bufnr = vim.api.nvim_create_buf(false, true) -- unlisted scratch: nofile, no swap file
  vim.api.nvim_buf_set_name(bufnr, name)
  vim.bo[bufnr].bufhidden = "hide"
  return bufnr
end

local function window_showing(bufnr)
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == bufnr then
      return win
    end
  end
end

local SPLITS = { vertical = "botright vsplit", horizontal = "botright split", tab = "tabnew" }

-- Show `lines` as Markdown in the scratch buffer `name`, in its window or a new split.
-- `root` becomes the buffer's 'path', so gF on a cited `path:line` opens the file.
function M.show(name, lines, opts)
  local bufnr = buffer_named(name)
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  vim.bo[bufnr].filetype = "markdown"
  if opts.root then
    vim.bo[bufnr].path = opts.root .. ",,"
    vim.b[bufnr].reporlm_root = opts.root
  end
  local win = window_showing(bufnr)
  if not win then
    local back = vim.api.nvim_get_current_win()
    vim.cmd(SPLITS[opts.split] or SPLITS.vertical)
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, bufnr)
    vim.wo[win].wrap = true
    vim.wo[win].linebreak = true
    if not opts.focus and vim.api.nvim_win_is_valid(back) then
      vim.api.nvim_set_current_win(back)
    end
  elseif opts.focus then
    vim.api.nvim_set_current_win(win)
  end
  vim.api.nvim_win_set_cursor(win, { 1, 0 })
  return bufnr, win
end

-- A new quickfix list (the previous ones stay reachable with :colder); opened when not empty.
function M.quickfix(title, items, open)
  vim.fn.setqflist({}, " ", { title = title, items = items })
  if open and #items > 0 then
    local back = vim.api.nvim_get_current_win()
    vim.cmd("botright copen")
    if vim.api.nvim_win_is_valid(back) then
      vim.api.nvim_set_current_win(back)
    end
  end
end

-- One line on the command line, cut to fit so it never asks for Enter.
function M.echo(text, highlight)
  local width = math.max(vim.v.echospace or (vim.o.columns - 12), 20) - 1
  if vim.fn.strdisplaywidth(text) > width then
    text = vim.fn.strcharpart(text, 0, width - 1) .. "…"
  end
  vim.api.nvim_echo({ { text, highlight or "None" } }, false, {})
end

function M.error(text)
  vim.notify(text, vim.log.levels.ERROR)
end

return M
