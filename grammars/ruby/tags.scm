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
  ]) @reference.class

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
