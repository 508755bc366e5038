require "json"

module Shop
  MAX_RETRIES = 3

  class Order < Base
    attr_reader :id

    def initialize(id)
      @id = id
    end

    def submit(client)
      client.post(to_json)
      log("submitted")
    end

    def self.build(id)
      new(id)
    end
  end
end
