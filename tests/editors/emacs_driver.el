;;; Drives Emacs (batch) with eglot through the reporlm commands of docs/editors.md, against a real
;;; `reporlm serve` with a scripted model, and writes what Emacs showed to a JSON file for pytest.
;;; Every wait is on a condition with a timeout, never a fixed sleep.
;;;
;;; $REPORLM_EMACS_TEST names a JSON file: {snippet, cmd, init_options, repo, results}.
(require 'json)

(defvar driver-config (let ((json-object-type 'alist) (json-array-type 'list))
                        (json-read-file (getenv "REPORLM_EMACS_TEST"))))
(defvar driver-out nil "What was seen, as an alist for json-encode.")
(defvar driver-messages nil "Every message, newest first.")

(defun driver-get (key) (alist-get key driver-config))

(defun driver-wait (what predicate)
  (let ((deadline (+ (float-time) 30)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "timed out waiting for %s" what))
      (accept-process-output nil 0.01))))

(defun driver-record (key value) (push (cons key value) driver-out))

(defun driver-text (name)
  (when (get-buffer name)
    (with-current-buffer name (buffer-substring-no-properties (point-min) (point-max)))))

(defun driver-answered (what thunk)
  "Run THUNK and wait until its answer replaced the *reporlm* buffer."
  (let ((before (driver-text "*reporlm*")))
    (funcall thunk)
    (driver-wait what (lambda () (and (null reporlm--runs)
                                      (not (equal before (driver-text "*reporlm*"))))))
    `((answer . ,(driver-text "*reporlm*"))
      (citations . ,(driver-text "*reporlm citations*"))
      (answer_mode . ,(with-current-buffer "*reporlm*" (symbol-name major-mode))))))

(defun driver-main ()
  (advice-add 'message :filter-return (lambda (text) (when text (push text driver-messages)) text))
  (load (driver-get 'snippet) nil t)
  ;; The test's server: the scripted model, started by the interpreter running the tests.
  (setq reporlm-server-command
        `(,@(driver-get 'cmd) :initializationOptions ,(driver-get 'init_options)))
  (find-file (expand-file-name "shop/orders.py" (driver-get 'repo)))
  (driver-record 'buffer_server_before (and (eglot-current-server) t))

  ;; The first command starts the project's reporlm connection; it manages no buffer.
  (driver-record 'status (reporlm-status))
  (driver-record 'buffer_server_after (and (eglot-current-server) t))
  (driver-record 'status_message (car driver-messages))

  (let ((ask (driver-answered "the answer" (lambda () (reporlm-ask "Where are retries configured?")))))
    ;; next-error (M-g n) from the citations buffer: the first cited line, in the selected window
    (next-error 1 t)
    (with-selected-window (selected-window)
      (push `(jump . ((file . ,buffer-file-name) (line . ,(line-number-at-pos)))) ask))
    (driver-record 'ask ask))
  (driver-record 'progress (reverse (seq-filter (lambda (m) (string-prefix-p "reporlm: iteration" m))
                                                driver-messages)))

  (switch-to-buffer (find-buffer-visiting (expand-file-name "shop/orders.py" (driver-get 'repo))))
  (driver-record 'plan (driver-answered "the plan" (lambda () (reporlm-plan "make the retry count configurable"))))

  (goto-char (point-min))
  (forward-line 4)
  (forward-char 14)  ; inside `with_retries` on "    return with_retries(...)"
  (driver-record 'explain (driver-answered "the explanation" #'reporlm-explain))

  ;; A run whose code block sleeps for minutes, cancelled once its first model reply came back.
  (setq driver-messages nil)
  (driver-record
   'cancel
   (driver-answered "the partial answer"
                    (lambda ()
                      (reporlm-ask "slow question")
                      (driver-wait "the slow block" (lambda () (seq-some (lambda (m) (string-match-p "running code" m))
                                                                          driver-messages)))
                      (reporlm-cancel))))
  (driver-record 'nothing_left (progn (reporlm-cancel) (car driver-messages)))

  ;; The other way: eglot-server-programs makes reporlm the server of python-mode buffers.
  (switch-to-buffer (find-buffer-visiting (expand-file-name "shop/orders.py" (driver-get 'repo))))
  (add-to-list 'eglot-server-programs `(python-mode . ,reporlm-server-command))
  (call-interactively #'eglot)
  (driver-wait "eglot to manage the buffer" #'eglot-current-server)
  (driver-record 'managed_status
                 (eglot-execute-command (eglot-current-server) "reporlm.server.status" [])))

(let ((ok (condition-case err (progn (driver-main) t)
            (error (driver-record 'error (error-message-string err)) nil))))
  (with-temp-file (driver-get 'results)
    (insert (json-encode driver-out)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs (if ok 0 1)))
