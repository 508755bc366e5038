; Ruby: definitions and references.

(method
  name: (_) @name) @definition.method

(singleton_method
  name: (_) @name) @definition.method

(alias
  name: (_) @name) @definition.method

(class
  name: [
    (constant) @name
    (scope_resolution
      name: (_) @name)
  ]) @definition.class

(singleton_class
  value: [
    (constant) @name
    (scope_resolution
      name: (_) @name)
  ]) @definition.class

(module
  name: [
    (constant) @name
    (scope_resolution
      name: (_) @name)
  ]) @definition.module

(assignment
  left: (constant) @name) @definition.constant

(superclass
  [
    (constant) @name
    (scope_resolution
      name: (constant) @name)
  ]) @reference.base

; Mixins: include Comparable, extend Forwardable
((call
  method: (identifier) @_mixin
  arguments: (argument_list
    [
      (constant) @name
      (scope_resolution
        name: (constant) @name)
    ])) @reference.implementation
  (#match? @_mixin "^(include|extend|prepend)$"))

; Calls with a receiver or arguments; require and friends are plumbing.
((call
  method: (identifier) @name) @reference.call
  (#not-match? @name "^(require|require_relative|load|attr_reader|attr_writer|attr_accessor|include|extend|private|protected|public)$"))

(call
  receiver: [
    (constant) @name
    (scope_resolution
      name: (constant) @name)
  ]) @reference.class

; Imports, for repo.importers: require "x" (a load path) and require_relative "x" (this folder).
((call
  method: (identifier) @_require
  arguments: (argument_list
    .
    (string
      (string_content) @import.module))) @import
  (#match? @_require "^(require|load)$"))

((call
  method: (identifier) @_require
  arguments: (argument_list
    .
    (string
      (string_content) @import.relative))) @import
  (#eq? @_require "require_relative"))
